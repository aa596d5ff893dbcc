#!/usr/bin/env python3
"""Writes deploy/demo/lugares.geojson: the demo gazetteer of the demo city (Buenos Aires'
microcentro around -34.60,-58.38, where `gad seed` puts its officers and tasks).

A simplified grid: streets that run west from the river are numbered from Av. Leandro N. Alem
(100 per block), streets that run north are numbered from Av. Rivadavia; each street is a few
segments with the house-number range they cover. The places are real ones, placed near where
they are. Re-run after editing: python3 deploy/demo/gen_lugares.py
"""
import json
import os

LNG0, DLNG = -58.3705, 0.00123  # Av. Leandro N. Alem; one block westwards
LAT0, DLAT = -34.6081, 0.0011  # Av. Rivadavia; one block northwards

# Run north, numbered from Rivadavia (index = blocks west of Alem).
NORTE = ["Av. Leandro N. Alem", "25 de Mayo", "Reconquista", "San Martín", "Florida", "Maipú",
         "Esmeralda", "Suipacha", "Carlos Pellegrini", "Av. 9 de Julio", "Cerrito", "Libertad",
         "Talcahuano", "Uruguay", "Paraná", "Montevideo"]
# Run west, numbered from Alem (index = blocks north of Rivadavia).
OESTE = ["Av. Rivadavia", "Bartolomé Mitre", "Tte. Gral. Juan D. Perón", "Sarmiento",
         "Av. Corrientes", "Lavalle", "Tucumán", "Viamonte", "Av. Córdoba"]

r6 = lambda x: round(x, 6)
features = []


def calle(nombre, pts, desde, hasta):
    features.append({"type": "Feature",
                     "properties": {"nombre": nombre, "altura_desde": desde, "altura_hasta": hasta,
                                    "localidad": "CABA"},
                     "geometry": {"type": "LineString", "coordinates": [[r6(x), r6(y)] for x, y in pts]}})


def lugar(nombre, lat, lng, tipo="lugar"):
    features.append({"type": "Feature", "properties": {"nombre": nombre, "tipo": tipo, "localidad": "CABA"},
                     "geometry": {"type": "Point", "coordinates": [r6(lng), r6(lat)]}})


# West-running streets: 15 blocks in segments of 5 blocks (500 numbers).
for j, nombre in enumerate(OESTE):
    lat = LAT0 + j * DLAT
    for k in range(3):
        pts = [(LNG0 - i * DLNG, lat) for i in range(5 * k, 5 * k + 6)]
        calle(nombre, pts, 500 * k, 500 * (k + 1))
# Av. de Mayo, a block south of Rivadavia.
for k in range(3):
    calle("Av. de Mayo", [(LNG0 - i * DLNG, LAT0 - DLAT) for i in range(5 * k, 5 * k + 6)], 500 * k, 500 * (k + 1))
# North-running streets: 8 blocks in segments of 4 blocks (400 numbers).
for i, nombre in enumerate(NORTE):
    lng = LNG0 - i * DLNG
    for k in range(2):
        pts = [(lng, LAT0 + j * DLAT) for j in range(4 * k, 4 * k + 5)]
        calle(nombre, pts, 400 * k, 400 * (k + 1))

lugar("Obelisco", -34.60373, -58.38157)
lugar("Plaza de Mayo", -34.60830, -58.37120)
lugar("Casa Rosada", -34.60800, -58.37030)
lugar("Cabildo de Buenos Aires", -34.60880, -58.37380)
lugar("Teatro Colón", -34.60110, -58.38310)
lugar("Plaza Lavalle", -34.60180, -58.38480)
lugar("Plaza San Martín", -34.59550, -58.37530)
lugar("Galerías Pacífico", LAT0 + 7.37 * DLAT, LNG0 - 4 * DLNG)
lugar("Estación Retiro", -34.59120, -58.37460)
lugar("Congreso de la Nación", -34.60980, -58.39260)
lugar("Comisaría Vecinal 1-A", LAT0 + 5 * DLAT + 0.0001, LNG0 - 4.51 * DLNG)
lugar("Comisaría Vecinal 1-B", -34.61600, -58.37900)
lugar("Comisaría Vecinal 1-C", -34.61700, -58.37000)
lugar("Hospital de Clínicas José de San Martín", -34.59890, -58.39950)
lugar("Hospital Ramos Mejía", -34.61900, -58.40800)
lugar("Hospital Argerich", -34.62750, -58.36500)
lugar("Av. 9 de Julio y Av. de Mayo", LAT0 - DLAT, LNG0 - 9 * DLNG, "interseccion")

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lugares.geojson")
with open(out, "w", encoding="utf-8") as f:
    # One feature per line: diffs stay readable.
    f.write('{"type": "FeatureCollection", "features": [\n')
    f.write(",\n".join(json.dumps(x, ensure_ascii=False) for x in features))
    f.write("\n]}\n")
print(f"{out}: {len(features)} features")
