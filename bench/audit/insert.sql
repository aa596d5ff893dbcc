INSERT INTO audit_logs (event_type, user_id, resource_type, resource_id, action_description, new_values)
VALUES ('bench', 1, 'tarea', '1', 'pgbench audited insert', '{"estado": "asignada"}');
