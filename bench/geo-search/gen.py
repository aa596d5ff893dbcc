#!/usr/bin/env python3
"""Synthetic gazetteer for the address-search bench: N entries (default 200 000) over a
~33 x 33 km square around Buenos Aires, as GeoJSON files of at most 50 000 features each
(`gad lugares import` reads one file into memory), plus queries.txt with the queries wrk
rotates through (addresses, intersections, exact / misspelt / partial place names).

Streets are 10-block runs on a grid (100 numbers a block, one segment per block, so three in
four entries are street segments, as in an OpenStreetMap extract); places are points named from
common kinds (Escuela, Farmacia, Plaza, Comisaría…) and the same pool of names as the streets.

Usage: gen.py OUT_DIR [N] [SEED]
"""
import json
import os
import random
import sys
import urllib.parse

out_dir = sys.argv[1]
n_total = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
rnd = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 26)
os.makedirs(out_dir, exist_ok=True)

FIRST = """Juan José María Manuel Martín Pedro Domingo Bernardino Mariano Cornelio Hipólito Nicolás
Tomás Esteban Vicente Carlos Lucio Bartolomé Justo Julio Roque Marcelo Arturo Leandro Francisco
Miguel Luis Antonio Ricardo Hilario Gregorio Ramón Alfonsina Juana Mercedes Remedios Victoria
Eva Rosa Cecilia Isabel Ana Lola Elvira Gabriela Olga Amalia Clara Sofía Teresa Paula Inés""".split()
LAST = """Belgrano Moreno Saavedra Castelli Paso Azcuénaga Alberti Matheu Larrea Rivadavia Sarmiento
Mitre Avellaneda Roca Pellegrini Saenz Peña Yrigoyen Alvear Irigoyen Urquiza Lavalle Dorrego Brown
Güemes Pueyrredón Balcarce Alsina Echeverría Alberdi Guido Spano Ameghino Hernández Lugones Storni
Quiroga Arenales Necochea Olazábal Lamadrid Chiclana Bustamante Viamonte Pringles Zapiola Gorriti
Rodríguez Peña Laprida Montes Oca Otamendi Melo Beruti Thames Uriarte Gascón Aráoz Gurruchaga
Malabia Armenia Godoy Cruz Anchorena Billinghurst Mansilla Charcas Guatemala Paraguay Pampa
Manzanares Garmendia Iberá Ugarte Conesa Zabala Loyola Heredia Cullen Pizarro Terrada Argerich
Bolívar Perú Chacabuco Piedras Tacuarí Salta Jujuy Catamarca Mendoza Tucumán Córdoba Corrientes
Santa Fe Entre Ríos Misiones Formosa Chaco Neuquén Chubut Catamarca Pasco Matanza""".split()
PREFIX = ["", "", "", "Av. ", "Gral. ", "Dr. ", "Cnel. ", "Pasaje ", "Ing. ", "Pres. "]
KINDS = ["Escuela N° {n}", "Farmacia {a}", "Plaza {a}", "Comisaría {n}ª", "Club {a}",
         "Hospital {a}", "Centro de Salud N° {n}", "Parroquia {a}", "Biblioteca {a}",
         "Estación {a}", "Supermercado {a}", "Polideportivo {a}", "Jardín de Infantes N° {n}"]
LOCALIDADES = ["CABA", "Avellaneda", "Lanús", "Quilmes", "Lomas de Zamora", "La Matanza",
               "Morón", "Tres de Febrero", "San Martín", "Vicente López", "San Isidro",
               "Tigre", "Almirante Brown", "Berazategui", "Merlo", "Moreno"]

LAT0, LNG0 = -34.75, -58.60
DLAT, DLNG = 0.0011, 0.00123  # one block
ROWS = COLS = 300


def person():
    return f"{rnd.choice(FIRST)} {rnd.choice(LAST)}"


BLOCKS = 10
n_streets = (n_total * 3 // 4) // BLOCKS
n_places = n_total - n_streets * BLOCKS
names = set()
features, queries = [], []
streets = []  # (name, orientation, fixed index, start, desde)
while len(streets) < n_streets:
    name = f"{rnd.choice(PREFIX)}{person()}"
    loc = rnd.choice(LOCALIDADES)
    if (name, loc) in names:
        continue
    names.add((name, loc))
    ori = rnd.choice("EN")
    fixed = rnd.randrange(ROWS)
    start = rnd.randrange(COLS - BLOCKS)
    desde = rnd.choice([0, 100, 500, 1000, 2500, 4000])
    streets.append((name, ori, fixed, start, desde))
    for b in range(BLOCKS):
        if ori == "E":  # runs east-west at row `fixed`, columns start..start+BLOCKS
            pts = [[LNG0 + (start + b + t) * DLNG, LAT0 + fixed * DLAT] for t in (0, 1)]
        else:
            pts = [[LNG0 + fixed * DLNG, LAT0 + (start + b + t) * DLAT] for t in (0, 1)]
        features.append({"type": "Feature", "properties": {
            "nombre": name, "localidad": loc,
            "altura_desde": desde + 100 * b, "altura_hasta": desde + 100 * b + 99},
            "geometry": {"type": "LineString", "coordinates": [[round(x, 6), round(y, 6)] for x, y in pts]}})

place_names = []
for i in range(n_places):
    name = rnd.choice(KINDS).format(n=rnd.randint(1, 999), a=person())
    place_names.append(name)
    features.append({"type": "Feature", "properties": {"nombre": name, "localidad": rnd.choice(LOCALIDADES)},
                     "geometry": {"type": "Point", "coordinates": [
                         round(LNG0 + rnd.random() * COLS * DLNG, 6), round(LAT0 + rnd.random() * ROWS * DLAT, 6)]}})

# Queries: addresses, intersections of streets that do cross, places (exact, misspelt, partial).
for _ in range(300):
    name, _, _, _, desde = rnd.choice(streets)
    queries.append(f"{name} {desde + rnd.randint(0, BLOCKS * 100 - 1)}")
by_row = {}
for s in streets:
    if s[1] == "E":
        by_row.setdefault(s[2], []).append(s)
crossings = []
for s in streets:
    if s[1] != "N":
        continue
    for row in range(s[3], s[3] + BLOCKS + 1):
        for e in by_row.get(row, []):
            if e[3] <= s[2] <= e[3] + BLOCKS:
                crossings.append((e[0], s[0]))
rnd.shuffle(crossings)
for a, b in crossings[:250]:
    queries.append(f"{a} y {b}")


def misspell(s):
    i = rnd.randrange(1, len(s) - 1)
    return s[:i] + s[i + 1:]


for _ in range(150):
    queries.append(rnd.choice(place_names))
for _ in range(150):
    queries.append(misspell(rnd.choice(place_names)))
for _ in range(150):
    queries.append(rnd.choice(place_names).split(" ", 1)[-1])  # without its kind
rnd.shuffle(queries)

CHUNK = 50_000
rnd.shuffle(features)
for k in range(0, len(features), CHUNK):
    path = os.path.join(out_dir, f"lugares-{k // CHUNK + 1}.geojson")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"type": "FeatureCollection", "features": features[k:k + CHUNK]}, f, ensure_ascii=False)
with open(os.path.join(out_dir, "queries.txt"), "w", encoding="utf-8") as f:
    for q in queries:
        f.write(urllib.parse.quote(q) + "\n")
print(f"{len(features)} entries ({n_streets} streets x {BLOCKS} segments, {n_places} places), "
      f"{len(queries)} queries, {len(crossings)} crossings, in {out_dir}")
