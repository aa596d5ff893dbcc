-- wrk script: POST /api/v1/auth/login with a form body (demo supervisor from `gad seed`).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "username=supervisor1%40gad.local&password=Supervisor2026%21"
