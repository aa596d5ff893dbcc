#!/usr/bin/env python3
"""Writes the command centre's alarm sounds (crates/gad-api/web/sounds/*.wav).

Made here from plain tones instead of downloaded, so they carry no third-party licence and can be
regenerated. One distinct pattern per kind, so a desk can tell them apart without looking:
  emergencia_nueva  two-tone siren (960/770 Hz), the most urgent
  sin_asignar       fast triple beep (1,200 Hz)
  checkin           low double beep (520 Hz), an officer did not answer
  mensaje           soft rising chime (660→990 Hz)
"""
import math
import os
import wave

RATE = 11025
OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "gad-api", "web", "sounds")


def tone(freq, secs, vol=0.6):
    n = int(RATE * secs)
    fade = int(RATE * 0.01)
    out = []
    for i in range(n):
        env = min(1.0, i / fade, (n - i) / fade)
        out.append(vol * env * math.sin(2 * math.pi * freq * i / RATE))
    return out


def silence(secs):
    return [0.0] * int(RATE * secs)


def write(name, samples):
    with wave.open(os.path.join(OUT, name + ".wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(RATE)
        w.writeframes(bytes(int(128 + 127 * max(-1.0, min(1.0, s))) for s in samples))


def main():
    os.makedirs(OUT, exist_ok=True)
    write("emergencia_nueva", (tone(960, 0.25) + tone(770, 0.25)) * 2)
    write("sin_asignar", (tone(1200, 0.09) + silence(0.06)) * 3)
    write("checkin", tone(520, 0.2) + silence(0.12) + tone(520, 0.2))
    write("mensaje", tone(660, 0.12, 0.4) + tone(990, 0.22, 0.4))


if __name__ == "__main__":
    main()
