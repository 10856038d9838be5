#!/usr/bin/env python3
"""Random GB/T 32960.3 frames built with the independent PyPI package ``rtm_con`` (1.0.4).

Differential-test oracle, Python side.  Usage::

    python rtm_gen.py --seed N --count K [--edition 2016|2025|both] [--strict]

For each of K frames the generator (a seeded ``random.Random``) picks a message kind and
RAW wire values (valid ranges most of the time, 0xFE/0xFF-style sentinels sometimes),
converts them to the physical values rtm_con's adapters expect, and lets rtm_con's own
construct builder (``msg_checked.build``) produce the frame, including the BCC and, for
2025 RSA signatures, the signature itself.  ``values`` in the output are the generator's
own choices (the ground truth), never rtm_con's decode.

Every frame is then checked before it is printed:
  1. an independent struct-based encoder in this file rebuilds the frame from ``values``
     and must produce the same bytes as rtm_con (so ``values`` and ``hex`` agree);
  2. rtm_con's checksum-verifying parser (``msg_checked``) must parse it, with the same
     header and the same list of block types (catches rtm_con's silent truncation), and,
     for RSA-signed frames, verify the signature with the public key;
  3. rebuilding rtm_con's parse result must give the same bytes again.
A failure of 2/3 is treated as an rtm_con fault: the frame is dropped and regenerated
(reported on stderr).  A failure of 1 is a bug in this script (exit 1).  ``--strict``
turns every failure into exit 1.

Output: one JSON object per line on stdout, nothing else; diagnostics go to stderr.
See README.md next to this file for the record format and the rtm_con faults avoided.
"""

import argparse
import datetime as dt
import importlib.util
import json
import math
import os
import random
import struct
import sys
import time as _time
from collections import Counter

# rtm_con converts wire time (Beijing time) into the host's local zone when parsing.
# Pin the zone so the parse cross-check is host independent.
os.environ["TZ"] = "Asia/Shanghai"
if hasattr(_time, "tzset"):
    _time.tzset()


def _import_rtm_con():
    """Import rtm_con; 1.0.4's package __init__ crashes without openpyxl (NameError, not
    ImportError), so fall back to loading the package object without running __init__."""
    try:
        import rtm_con  # noqa: F401
    except NameError:
        for k in [k for k in sys.modules if k == "rtm_con" or k.startswith("rtm_con.")]:
            del sys.modules[k]
        spec = importlib.util.find_spec("rtm_con")
        mod = importlib.util.module_from_spec(spec)
        sys.modules["rtm_con"] = mod  # __path__ is set, submodules import normally


_import_rtm_con()

from rtm_con.msg_format import msg_checked  # noqa: E402
from rtm_con.types_dataitem import DataItemAdapter  # noqa: E402
from rtm_con import types_sig  # noqa: E402
from rtm_con.data_whole_vehicle import whole_vehicle_data_2016, whole_vehicle_data_2025  # noqa: E402
from rtm_con.data_emotor import emotor_item_2016, emotor_item_2025  # noqa: E402
from rtm_con.data_engine import engine_data_2016, engine_data_2025  # noqa: E402
from rtm_con.data_gnss import gnss_data_2016, gnss_data_2025  # noqa: E402
from rtm_con.data_pack_extrema import pack_extrema_data_2016  # noqa: E402
from rtm_con.data_cell_volts import pack_item_2016 as cellv_item_2016, pack_item_2025 as cellv_item_2025  # noqa: E402
from rtm_con.data_probe_temps import pack_item_2016 as temp_item_2016, pack_item_2025 as temp_item_2025  # noqa: E402
from rtm_con.data_warnings import general_warnings_2016, general_warnings_2025  # noqa: E402

try:  # optional dependency of rtm_con (extra "sig"); needed only for RSA signatures
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    HAVE_CRYPTO = types_sig.cryptography is not None
except ImportError:  # pragma: no cover
    HAVE_CRYPTO = False

BJ = dt.timezone(dt.timedelta(hours=8))
S1 = (0xFE, 0xFF)
S2 = (0xFFFE, 0xFFFF)
S4 = (0xFFFFFFFE, 0xFFFFFFFF)
SENT = {1: S1, 2: S2, 4: S4}


class ScriptBug(Exception):
    """The independent encoder disagrees with rtm_con: fix this script."""


class RtmFault(Exception):
    """rtm_con could not build/parse a valid frame, or lost data on parse."""


def log(*a):
    print(*a, file=sys.stderr)


# --------------------------------------------------------------------------------------
# raw -> physical conversion through rtm_con's own adapters (so its offsets, right or
# wrong, round-trip to exactly the raw integer we chose)
# --------------------------------------------------------------------------------------

def fields(con):
    return {sc.name: sc.subcon for sc in con.subcons if sc.name}


def find_adapter(con):
    if isinstance(con, DataItemAdapter):
        return con
    for attr in ("subcon",):
        sub = getattr(con, attr, None)
        if sub is not None:
            r = find_adapter(sub)
            if r is not None:
                return r
    for sub in getattr(con, "subcons", []) or []:
        r = find_adapter(sub)
        if r is not None:
            return r
    return None


def phy(ad, raw):
    if not isinstance(ad, DataItemAdapter):
        return raw
    v = raw + ad.offset if ad.factor == 1 else raw * ad.factor + ad.offset
    if ad._encode(v, None, None) != raw:
        raise ScriptBug(f"cannot express raw {raw} through adapter f={ad.factor} o={ad.offset}")
    return v


F_WV16, F_WV25 = fields(whole_vehicle_data_2016), fields(whole_vehicle_data_2025)
F_EM16, F_EM25 = fields(emotor_item_2016), fields(emotor_item_2025)
F_EN16, F_EN25 = fields(engine_data_2016), fields(engine_data_2025)
F_GN16, F_GN25 = fields(gnss_data_2016), fields(gnss_data_2025)
F_EX16 = fields(pack_extrema_data_2016)
F_CV16, F_CV25 = fields(cellv_item_2016), fields(cellv_item_2025)
F_TP16, F_TP25 = fields(temp_item_2016), fields(temp_item_2025)
AD_CELL16 = find_adapter(F_CV16["cell_volts"])
AD_CELL25 = find_adapter(F_CV25["cell_volts"])
AD_TEMP16 = find_adapter(F_TP16["probe_temps"])
AD_TEMP25 = find_adapter(F_TP25["probe_temps"])


# --------------------------------------------------------------------------------------
# random helpers
# --------------------------------------------------------------------------------------

class Gen:
    def __init__(self, rng, p_sent):
        self.r = rng
        self.p = p_sent

    def num(self, lo, hi, width, sentinel=True):
        """Raw integer in [lo, hi], edges favoured, sentinel of `width` with prob p."""
        r = self.r
        if sentinel and r.random() < self.p:
            return r.choice(SENT[width])
        x = r.random()
        if x < 0.06:
            return lo
        if x < 0.12:
            return hi
        return r.randint(lo, hi)

    def enum(self, codes, width=1, sentinel=True):
        if sentinel and self.r.random() < self.p:
            return self.r.choice(SENT[width])
        return self.r.choice(codes)

    def count(self, lo, hi, typical_hi):
        """A list length: usually small, sometimes up to hi, now and then exactly hi."""
        x = self.r.random()
        if x < 0.05:
            return hi
        if x < 0.9:
            return self.r.randint(lo, min(hi, typical_hi))
        return self.r.randint(lo, hi)

    def text(self, n, alphabet="ABCDEFGHJKLMNPRSTUVWXYZ0123456789"):
        return "".join(self.r.choice(alphabet) for _ in range(n))

    def bytes_(self, n):
        return bytes(self.r.getrandbits(8) for _ in range(n))


def rand_time(g):
    r = g.r
    x = r.random()
    y = 2000 if x < 0.04 else 2099 if x < 0.08 else r.randint(2016, 2035) if x < 0.6 else r.randint(2000, 2099)
    mo = r.randint(1, 12)
    d = r.randint(1, [31, 29 if y % 4 == 0 else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1])
    return dt.datetime(y, mo, d, r.randint(0, 23), r.randint(0, 59), r.randint(0, 59), tzinfo=BJ)


def tstr(t):
    return t.strftime("%Y-%m-%d %H:%M:%S")


def tbytes(t):
    return bytes((t.year - 2000, t.month, t.day, t.hour, t.minute, t.second))


VIN_ALPHA = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"


def rand_vin(g):
    if g.r.random() < 0.05:  # shorter identifier, NUL padded on the wire
        return g.text(g.r.randint(1, 16), VIN_ALPHA)
    return "L" + g.text(16, VIN_ALPHA)


def rand_serial(g):
    return g.r.choice([g.r.randint(1, 65531), g.r.randint(1, 200), 1, 65531])


# --------------------------------------------------------------------------------------
# deterministic RSA key (PKCS#1 v1.5 signatures are deterministic, so a key derived from
# the seed keeps the whole output reproducible)
# --------------------------------------------------------------------------------------

_SMALL_PRIMES = [p for p in range(3, 2000) if all(p % q for q in range(2, int(p ** 0.5) + 1))]


def _is_probable_prime(n, rng):
    for p in _SMALL_PRIMES:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(40):
        a = rng.randrange(2, n - 2)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _rand_prime(rng, bits):
    while True:
        c = rng.getrandbits(bits) | (3 << (bits - 2)) | 1
        if _is_probable_prime(c, rng):
            return c


_RSA_CACHE = {}


def rsa_key_for_seed(seed):
    if seed in _RSA_CACHE:
        return _RSA_CACHE[seed]
    rng = random.Random(f"rtm_gen-rsa-{seed}")
    e = 65537
    while True:
        p, q = _rand_prime(rng, 1024), _rand_prime(rng, 1024)
        if p == q:
            continue
        n = p * q
        phi = (p - 1) * (q - 1)
        if n.bit_length() != 2048 or math.gcd(e, phi) != 1:
            continue
        break
    d = pow(e, -1, phi)
    pub = rsa.RSAPublicNumbers(e, n)
    key = rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), pub).private_key()
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    raw_pub = n.to_bytes(256, "big") + e.to_bytes(3, "big")  # rtm_con's activation convention
    _RSA_CACHE[seed] = (key, pem, raw_pub)
    return _RSA_CACHE[seed]


def rsa_sign(key, data):
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


# --------------------------------------------------------------------------------------
# block generators: each returns (values_dict, rtm_con_obj, independent_bytes)
# Independent bytes include the type flag.
# --------------------------------------------------------------------------------------

P = struct.pack


def blk_vehicle(g, ed):
    r = g.r
    gear = (r.getrandbits(1) << 5) | (r.getrandbits(1) << 4) | r.randint(0, 15)
    if ed == 2025 and r.random() < 0.1:
        gear |= 0x80
    v = {
        "type": 0x01,
        "vehicle_state": g.enum([1, 2, 3]),
        "charging_state": g.enum([1, 2, 3, 4]),
        "operating_mode": g.enum([1, 2, 3]),
        "speed": g.num(0, 2200 if ed == 2016 else 5000, 2),
        "odometer": g.num(0, 9999999, 4),
        "total_voltage": g.num(0, 10000 if ed == 2016 else 60000, 2),
        "total_current": g.num(0, 20000 if ed == 2016 else 60000, 2),
        "soc": g.num(0, 100, 1),
        "dcdc_state": g.enum([1, 2]),
        "gear": gear,
        "insulation": g.num(0, 60000, 2),  # 2016 states no sentinel; the raw value is what counts
    }
    if ed == 2016:
        v["accel_pedal"] = g.num(0, 100, 1)
        v["brake_pedal"] = 101 if r.random() < 0.1 else g.num(0, 100, 1)
    F = F_WV16 if ed == 2016 else F_WV25
    gs = {"driving_force": bool(gear & 0x20), "braking_force": bool(gear & 0x10), "gear": gear & 0x0F}
    if ed == 2025:
        gs["gear_postion_validity"] = gear >> 7
    c = {
        "vehicle_state": v["vehicle_state"], "charge_state": v["charging_state"],
        "operate_state": v["operating_mode"],
        "vehicle_speed": phy(F["vehicle_speed"], v["speed"]),
        "mileage_total": phy(F["mileage_total"], v["odometer"]),
        "voltage_total": phy(F["voltage_total"], v["total_voltage"]),
        "current_total": phy(F["current_total"], v["total_current"]),
        "soc": phy(F["soc"], v["soc"]),
        "dcdc_state": v["dcdc_state"], "gear_state": gs,
        "insulation_resistance": phy(F["insulation_resistance"], v["insulation"]),
    }
    b = P(">BBBBHIHHBBBH", 0x01, v["vehicle_state"], v["charging_state"], v["operating_mode"], v["speed"],
          v["odometer"], v["total_voltage"], v["total_current"], v["soc"], v["dcdc_state"], gear, v["insulation"])
    if ed == 2016:
        c["accelerator_padel"] = phy(F["accelerator_padel"], v["accel_pedal"])
        c["brake_padel"] = phy(F["brake_padel"], v["brake_pedal"])
        b += P(">BB", v["accel_pedal"], v["brake_pedal"])
    return v, {"data_type": "whole_vehicle", "data_content": c}, b


def blk_motors(g, ed):
    r = g.r
    k = r.randint(1, 4)
    seq = r.random() < 0.8
    F = F_EM16 if ed == 2016 else F_EM25
    motors, objs = [], []
    b = P(">BB", 0x02, k)
    for i in range(k):
        m = {
            "no": i + 1 if seq else r.randint(1, 253),
            "state": g.enum([1, 2, 3, 4]),
            "controller_temp": g.num(0, 250, 1),
            "speed": g.num(0, 65531, 2),
        }
        if ed == 2016:
            m["torque"] = g.num(0, 65531, 2)
            m["temp"] = g.num(0, 250, 1)
            m["controller_voltage"] = g.num(0, 60000, 2)
            m["controller_current"] = g.num(0, 20000, 2)
            b += P(">BBBHHBHH", m["no"], m["state"], m["controller_temp"], m["speed"], m["torque"], m["temp"],
                   m["controller_voltage"], m["controller_current"])
        else:
            m["torque"] = g.num(0, 400000, 4)
            m["temp"] = g.num(0, 250, 1)
            b += P(">BBBHIB", m["no"], m["state"], m["controller_temp"], m["speed"], m["torque"], m["temp"])
        o = {"index": m["no"], "state": m["state"],
             "ctrl_temp": phy(F["ctrl_temp"], m["controller_temp"]),
             "speed": phy(F["speed"], m["speed"]), "torque": phy(F["torque"], m["torque"]),
             "temp": phy(F["temp"], m["temp"])}
        if ed == 2016:
            o["ctrl_volt"] = phy(F["ctrl_volt"], m["controller_voltage"])
            o["ctrl_curr"] = phy(F["ctrl_curr"], m["controller_current"])
        motors.append(m)
        objs.append(o)
    return {"type": 0x02, "motors": motors}, {"data_type": "emotor", "data_content": objs}, b


def blk_engine(g, ed):
    if ed == 2016:
        v = {"type": 0x04, "engine_state": g.enum([1, 2]), "crank_speed": g.num(0, 60000, 2),
             "fuel_rate": g.num(0, 60000, 2)}
        c = {"engine_state": v["engine_state"], "engine_torque": phy(F_EN16["engine_torque"], v["crank_speed"]),
             "fuel_consumption": phy(F_EN16["fuel_consumption"], v["fuel_rate"])}
        b = P(">BBHH", 0x04, v["engine_state"], v["crank_speed"], v["fuel_rate"])
    else:
        v = {"type": 0x04, "crank_speed": g.num(0, 60000, 2)}
        c = {"engine_torque": phy(F_EN25["engine_torque"], v["crank_speed"])}
        b = P(">BH", 0x04, v["crank_speed"])
    return v, {"data_type": "engine", "data_content": c}, b


def blk_position(g, ed):
    r = g.r
    status = r.randint(0, 7) if r.random() < 0.5 else r.choice([0, 0, 1])
    v = {"type": 0x05, "status": status}
    if ed == 2025:
        v["coordinate_system"] = r.choice([1, 2, 3])
    v["longitude"] = g.num(0, 180000000, 4)
    v["latitude"] = g.num(0, 90000000, 4)
    F = F_GN16 if ed == 2016 else F_GN25
    c = {"gnss_state": {"gnss_e_w": (status >> 2) & 1, "gnss_n_s": (status >> 1) & 1,
                        "gnss_valid": not (status & 1)},
         "gnss_lng": phy(F["gnss_lng"], v["longitude"]), "gnss_lat": phy(F["gnss_lat"], v["latitude"])}
    if ed == 2016:
        b = P(">BBII", 0x05, status, v["longitude"], v["latitude"])
    else:
        c["gnss_gcs"] = v["coordinate_system"]
        b = P(">BBBII", 0x05, status, v["coordinate_system"], v["longitude"], v["latitude"])
    return v, {"data_type": "gnss", "data_content": c}, b


def blk_extremes(g, ed):
    assert ed == 2016
    v = {"type": 0x06,
         "max_v_subsys": g.num(1, 250, 1), "max_v_cell": g.num(1, 250, 1), "max_v": g.num(0, 15000, 2),
         "min_v_subsys": g.num(1, 250, 1), "min_v_cell": g.num(1, 250, 1), "min_v": g.num(0, 15000, 2),
         "max_t_subsys": g.num(1, 250, 1), "max_t_probe": g.num(1, 250, 1), "max_t": g.num(0, 250, 1),
         "min_t_subsys": g.num(1, 250, 1), "min_t_probe": g.num(1, 250, 1), "min_t": g.num(0, 250, 1)}
    names = [("max_volt_pack_index", "max_v_subsys"), ("max_volt_cell_index", "max_v_cell"),
             ("max_cell_volt", "max_v"), ("min_volt_pack_index", "min_v_subsys"),
             ("min_volt_cell_index", "min_v_cell"), ("min_cell_volt", "min_v"),
             ("max_temp_pack_index", "max_t_subsys"), ("max_temp_cell_index", "max_t_probe"),
             ("max_cell_temp", "max_t"), ("min_temp_pack_index", "min_t_subsys"),
             ("min_temp_cell_index", "min_t_probe"), ("min_cell_temp", "min_t")]
    c = {rn: phy(F_EX16[rn], v[vn]) for rn, vn in names}
    b = P(">BBBHBBHBBBBBB", 0x06, v["max_v_subsys"], v["max_v_cell"], v["max_v"], v["min_v_subsys"],
          v["min_v_cell"], v["min_v"], v["max_t_subsys"], v["max_t_probe"], v["max_t"], v["min_t_subsys"],
          v["min_t_probe"], v["min_t"])
    return v, {"data_type": "pack_extrema", "data_content": c}, b


def blk_alarm(g, ed):
    r = g.r
    nbits = 19 if ed == 2016 else 28
    names = general_warnings_2016 if ed == 2016 else general_warnings_2025
    flags = 0
    if r.random() < 0.6:
        for _ in range(r.randint(1, 6)):
            flags |= 1 << r.randrange(nbits)
    if r.random() < 0.03:
        flags = (1 << nbits) - 1
    maxcnt = 252 if ed == 2016 else 253

    def faults():
        x = r.random()
        if x < 0.55:
            n = 0
        elif x < 0.97:
            n = r.randint(1, 5)
        else:
            n = r.randint(6, maxcnt)
        return [r.getrandbits(32) if r.random() < 0.9 else r.choice(S4) for _ in range(n)]

    v = {"type": 0x07 if ed == 2016 else 0x06,
         "level": g.enum([0, 1, 2, 3] if ed == 2016 else [0, 1, 2, 3, 4]),
         "flags": flags,
         "ress_faults": faults(), "motor_faults": faults(), "engine_faults": faults(), "other_faults": faults()}
    c = {"max_warning_level": v["level"],
         "general_warnings": {n: bool(flags >> i & 1) for i, n in names.items()},
         "pack_failures": ["%08x" % x for x in v["ress_faults"]],
         "emotor_failures": ["%08x" % x for x in v["motor_faults"]],
         "engine_failures": ["%08x" % x for x in v["engine_faults"]],
         "other_failures": ["%08x" % x for x in v["other_faults"]]}
    b = P(">BBI", v["type"], v["level"], flags)
    for key in ("ress_faults", "motor_faults", "engine_faults", "other_faults"):
        b += P(">B", len(v[key])) + b"".join(P(">I", x) for x in v[key])
    if ed == 2025:
        set_bits = [i for i in range(28) if flags >> i & 1]
        lst = []
        x = r.random()
        if x < 0.7 and set_bits:
            for bit in set_bits:
                lst.append([bit, 4 if bit == 23 else r.randint(1, 4)])
        elif x < 0.85:
            for _ in range(r.randint(1, 6)):
                bit = r.randint(0, 31) if r.random() < 0.2 else r.randint(0, 27)
                lst.append([bit, r.randint(0, 4)])
        if r.random() < 0.01:
            lst = [[r.randint(0, 27), r.randint(1, 4)] for _ in range(253)]
        v["general_alarms"] = lst
        c["general_warning_list"] = [{"warning": bit, "level": lv} for bit, lv in lst]
        b += P(">B", len(lst)) + b"".join(P(">BB", bit, lv) for bit, lv in lst)
    return v, {"data_type": "warnings", "data_content": c}, b


def blk_cells(g, ed):
    r = g.r
    n = r.randint(1, 3)
    subs, objs = [], []
    if ed == 2016:
        b = P(">BB", 0x08, n)
        first = 1
        for i in range(n):
            m = g.count(1, 200, 120)
            cells = [g.num(2500, 4300, 2) if r.random() < 0.7 else g.num(0, 60000, 2) for _ in range(m)]
            total = g.num(m, 65531, 2) if r.random() < 0.9 else g.num(1, 65531, 2)
            s = {"no": i + 1 if r.random() < 0.8 else r.randint(1, 250),
                 "voltage": g.num(0, 10000, 2), "current": g.num(0, 20000, 2),
                 "cell_total": total,
                 "first_cell": first if r.random() < 0.7 else r.randint(1, 65531),
                 "cells": cells}
            subs.append(s)
            objs.append({"index": phy(F_CV16["index"], s["no"]), "volt": phy(F_CV16["volt"], s["voltage"]),
                         "curr": phy(F_CV16["curr"], s["current"]),
                         "cell_total": phy(F_CV16["cell_total"], s["cell_total"]),
                         "cell_start_index": s["first_cell"],
                         "cell_volts": [phy(AD_CELL16, x) for x in cells]})
            b += P(">BHHHHB", s["no"], s["voltage"], s["current"], s["cell_total"], s["first_cell"], m)
            b += b"".join(P(">H", x) for x in cells)
        return {"type": 0x08, "subsystems": subs}, {"data_type": "cell_volts", "data_content": objs}, b
    b = P(">BB", 0x07, n)
    for i in range(n):
        m = g.count(1, 200, 120)
        cells = [g.num(2500, 4300, 2) if r.random() < 0.7 else g.num(0, 60000, 2) for _ in range(m)]
        s = {"no": i + 1 if r.random() < 0.8 else r.randint(1, 50),
             "voltage": g.num(0, 60000, 2), "current": g.num(0, 60000, 2), "cells": cells}
        subs.append(s)
        objs.append({"index": phy(F_CV25["index"], s["no"]), "volt": phy(F_CV25["volt"], s["voltage"]),
                     "curr": phy(F_CV25["curr"], s["current"]),
                     "cell_volts": [phy(AD_CELL25, x) for x in cells]})
        b += P(">BHHH", s["no"], s["voltage"], s["current"], m) + b"".join(P(">H", x) for x in cells)
    return {"type": 0x07, "packs": subs}, {"data_type": "cell_volts", "data_content": objs}, b


def blk_temps(g, ed):
    r = g.r
    n = r.randint(1, 3)
    typ = 0x09 if ed == 2016 else 0x08
    ad = AD_TEMP16 if ed == 2016 else AD_TEMP25
    F = F_TP16 if ed == 2016 else F_TP25
    subs, objs = [], []
    b = P(">BB", typ, n)
    for i in range(n):
        p = g.count(1, 250, 64)
        temps = [g.num(40, 100, 1) if r.random() < 0.6 else g.num(0, 250, 1) for _ in range(p)]
        s = {"no": i + 1 if r.random() < 0.8 else r.randint(1, 250 if ed == 2016 else 50), "temps": temps}
        subs.append(s)
        objs.append({"index": phy(F["index"], s["no"]), "probe_temps": [phy(ad, t) for t in temps]})
        b += P(">BH", s["no"], p) + bytes(temps)
    return {"type": typ, "subsystems": subs}, {"data_type": "probe_temps", "data_content": objs}, b


def blk_custom(g, ed):
    r = g.r
    typ = r.randint(0x80, 0xFE)
    n = r.randint(1, 64) if r.random() < 0.95 else r.randint(65, 1500)
    data = g.bytes_(n)
    v = {"type": typ, "data_hex": data.hex().upper()}
    return v, {"data_type": typ, "data_content": data.hex()}, P(">BH", typ, n) + data


STD_BLOCKS = {
    2016: [(0x01, blk_vehicle), (0x02, blk_motors), (0x04, blk_engine), (0x05, blk_position),
           (0x06, blk_extremes), (0x07, blk_alarm), (0x08, blk_cells), (0x09, blk_temps)],
    2025: [(0x01, blk_vehicle), (0x02, blk_motors), (0x04, blk_engine), (0x05, blk_position),
           (0x06, blk_alarm), (0x07, blk_cells), (0x08, blk_temps)],
}


# --------------------------------------------------------------------------------------
# message generators: return dict(kind, values, obj (rtm_con msg), payload (independent),
# build_kw, pem)
# --------------------------------------------------------------------------------------

def header_values(g, ed, command, response, enc=0x01, vin=None):
    return {"command": command, "response": response, "vin": vin if vin is not None else rand_vin(g),
            "encryption": enc}


def msg_obj(ed, values, payload_obj):
    ack = "command" if values["response"] == 0xFE else values["response"]
    return {"starter": "protocol_2016" if ed == 2016 else "protocol_2025",
            "msg_type": MSG_NAMES.get(values["command"], values["command"]),
            "ack": ack, "vin": values["vin"], "enc": values["encryption"], "payload": payload_obj}


MSG_NAMES = {0x01: "login", 0x02: "realtime", 0x03: "supplimentary", 0x04: "logout", 0x05: "plt_login",
             0x06: "plt_logout", 0x07: "heartbeat", 0x08: "time_sync", 0x09: "activation",
             0x0A: "activation_response", 0x0B: "payload_key_sync"}


def m_login(g, ed, ctx):
    r = g.r
    v = header_values(g, ed, 0x01, 0xFE)
    t = rand_time(g)
    iccid = "8986" + g.text(16, "0123456789")
    if r.random() < 0.05:
        iccid = iccid[:r.randint(1, 19)]
    v.update(time=tstr(t), serial=rand_serial(g), iccid=iccid)
    pay = tbytes(t) + P(">H", v["serial"]) + iccid.encode().ljust(20, b"\0")
    if ed == 2016:
        if r.random() < 0.85:
            n, m = r.randint(0, 4), r.choice([0, 24, 24, r.randint(1, 50)])
        else:
            n, m = r.randint(0, 250), r.randint(0, 8)
        codes = [g.text(m) for _ in range(n)] if m else []
        v.update(ress_count=n, code_len=m, codes=codes)
        obj = {"timestamp": t, "session_id": v["serial"], "iccid": iccid, "bms_total": n, "pack_sn_len": m,
               "pack_sn": codes if m else [""] * n}
        pay += P(">BB", n, m) + "".join(codes).encode()
    else:
        nb = r.randint(0, 3) if r.random() < 0.85 else r.randint(0, 20)
        counts = [r.randint(0, 4) if r.random() < 0.9 else r.randint(0, 50) for _ in range(nb)]
        per = [[g.text(24) for _ in range(c)] for c in counts]
        v.update(bms_pack_counts=counts, pack_codes=[c for lst in per for c in lst])
        obj = {"timestamp": t, "session_id": v["serial"], "iccid": iccid, "bms_total": nb,
               "pack_per_bms": counts, "pack_sn_list": per}
        pay += P(">B", nb) + bytes(counts) + "".join(v["pack_codes"]).encode()
    return "login", v, obj, pay, {}


def m_logout(g, ed, ctx, command=0x04):
    v = header_values(g, ed, command, 0xFE)
    t = rand_time(g)
    v.update(time=tstr(t), serial=rand_serial(g))
    return ("logout" if command == 4 else "platform_logout"), v, {"timestamp": t, "session_id": v["serial"]}, \
        tbytes(t) + P(">H", v["serial"]), {}


def m_plt_login(g, ed, ctx):
    r = g.r
    v = header_values(g, ed, 0x05, 0xFE)
    t = rand_time(g)
    pw_alpha = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ0123456789!#%&*+-_.@"
    v.update(time=tstr(t), serial=rand_serial(g), username=g.text(r.randint(1, 12), pw_alpha),
             password=g.text(r.randint(1, 20), pw_alpha),
             enc_rule=r.choice([1, 1, 2, 3, 0xFE, 0xFF] + ([4, 5] if ed == 2025 else [])))
    obj = {"timestamp": t, "session_id": v["serial"], "username": v["username"], "password": v["password"],
           "enc": v["enc_rule"]}
    pay = tbytes(t) + P(">H", v["serial"]) + v["username"].encode().ljust(12, b"\0") + \
        v["password"].encode().ljust(20, b"\0") + P(">B", v["enc_rule"])
    return "platform_login", v, obj, pay, {}


def m_empty(g, ed, ctx, command):
    r = g.r
    encs = [1, 1, 1, 1, 2, 3, 0xFE, 0xFF] + ([4, 5] if ed == 2025 else [])
    v = header_values(g, ed, command, 0xFE, enc=r.choice(encs))
    return ("heartbeat" if command == 7 else "time_calibration"), v, b"", b"", {}


def m_response(g, ed, ctx):
    r = g.r
    cmds = [1, 2, 3, 4, 5, 6, 7, 8] + ([9, 0x0B] if ed == 2025 else [])
    flags = [1, 2, 3] if ed == 2016 else [1, 2, 3, 4, 5, 6, 7]
    v = header_values(g, ed, r.choice(cmds), r.choice(flags))
    t = rand_time(g)
    v["time"] = tstr(t)
    return "response", v, {"timestamp": t}, tbytes(t), {}


def rand_dummy_sig(g, algo):
    r = g.r
    if algo == 1:  # SM2 layout, 32-byte R and S (random: not a valid signature)
        rb, sb = g.bytes_(32), g.bytes_(32)
    else:  # ECC: opaque, random lengths
        rb, sb = g.bytes_(r.randint(1, 66)), g.bytes_(r.randint(0, 66))
    return rb, sb


def choose_sig(g, ctx):
    x = g.r.random()
    if HAVE_CRYPTO and x < 0.5:
        return 2
    return 1 if x < 0.85 else 3


def m_data(g, ed, ctx, command):
    r = g.r
    v = header_values(g, ed, command, 0xFE)
    t = rand_time(g)
    v["time"] = tstr(t)
    p_include = r.choice([0.3, 0.6, 0.6, 0.9])
    chosen = [(typ, fn) for typ, fn in STD_BLOCKS[ed] if r.random() < p_include]
    ncustom = 0 if r.random() < 0.6 else r.randint(1, 3)
    chosen += [(None, blk_custom)] * ncustom
    if r.random() < 0.05 and chosen:  # repeated block type
        chosen.append(r.choice(chosen))
    if ed == 2025 and not chosen:  # rtm_con fault: a 2025 frame without blocks is unbuildable
        chosen = [r.choice(STD_BLOCKS[ed] + [(None, blk_custom)])]
    if r.random() < 0.5:
        r.shuffle(chosen)
    else:
        chosen.sort(key=lambda x: 0x100 if x[0] is None else x[0])
    blocks, objs, body = [], [], b""
    for _, fn in chosen:
        bv, bo, bb = fn(g, ed)
        blocks.append(bv)
        objs.append(bo)
        body += bb
    v["blocks"] = blocks
    signed = tbytes(t) + body
    pay_obj = {"timestamp": t, "data_list": objs}
    kw, pem = {}, None
    if ed == 2025:
        algo = choose_sig(g, ctx)
        if algo == 2:
            key, pem, _ = rsa_key_for_seed(ctx["seed"])
            rb, sb = rsa_sign(key, signed), b""
            kw["private_key"] = key
            pay_obj["sig"] = None
        else:
            rb, sb = rand_dummy_sig(g, algo)
            pay_obj["sig"] = {"algo": algo, "r_value": rb.hex(), "s_value": sb.hex()}
        pay_obj["sig_starter"] = "ff"
        v["signature"] = {"type": algo, "r_hex": rb.hex().upper(), "s_hex": sb.hex().upper()}
        signed += P(">BBH", 0xFF, algo, len(rb)) + rb + P(">H", len(sb)) + sb
    return ("realtime" if command == 2 else "reissue"), v, pay_obj, signed, dict(kw, pem=pem)


def m_activation(g, ed, ctx):
    r = g.r
    v = header_values(g, ed, 0x09, 0xFE)
    t = rand_time(g)
    chip = g.text(16) if r.random() < 0.7 else g.text(r.randint(1, 15))
    chip_wire = chip.ljust(16)  # the standard pads the chip ID with spaces (rtm_con would use NUL)
    algo = choose_sig(g, ctx)
    kw, pem = {}, None
    if algo == 2:
        key, pem, pubraw = rsa_key_for_seed(ctx["seed"])
    else:
        pubraw = (b"\x04" if r.random() < 0.3 else b"") + g.bytes_(64)
    act_vin = v["vin"]
    v.update(time=tstr(t), chip_id=chip, public_key_hex=pubraw.hex().upper(), activation_vin=act_vin)
    signed = tbytes(t) + chip_wire.encode() + P(">H", len(pubraw)) + pubraw + act_vin.encode().ljust(17, b"\0")
    obj = {"timestamp": t, "sec_chip_id": chip_wire, "pubkey": pubraw.hex(), "vin": act_vin}
    if algo == 2:
        rb, sb = rsa_sign(key, signed), b""
        kw["private_key"] = key
        obj["sig"] = None
    else:
        rb, sb = rand_dummy_sig(g, algo)
        obj["sig"] = {"algo": algo, "r_value": rb.hex(), "s_value": sb.hex()}
    v["signature"] = {"type": algo, "r_hex": rb.hex().upper(), "s_hex": sb.hex().upper()}
    pay = signed + P(">BH", algo, len(rb)) + rb + P(">H", len(sb)) + sb
    return "activation", v, obj, pay, dict(kw, pem=pem)


def m_activation_response(g, ed, ctx):
    r = g.r
    v = header_values(g, ed, 0x0A, 0xFE)
    status = r.choice([1, 2])
    info = 0 if status == 1 and r.random() < 0.8 else r.choice([0, 1, 2])
    v.update(status=status, info=info)  # standard codes (T B.4); rtm_con's names are off by one
    return "activation_response", v, {"activation_result": status, "activation_info": info}, \
        P(">BB", status, info), {}


def m_key_exchange(g, ed, ctx):
    r = g.r
    v = header_values(g, ed, 0x0B, 0xFE)
    kt = r.choice([2, 3, 4, 5])
    n = {2: r.choice([256, 270, 294]), 3: r.choice([16, 24, 32]), 4: r.choice([32, 64, 65]), 5: 16}[kt]
    if r.random() < 0.05:
        n = r.randint(0, 8)
    key = g.bytes_(n)
    t1, t2 = rand_time(g), rand_time(g)
    v.update(key_type=kt, key_hex=key.hex().upper(), valid_from=tstr(t1), valid_until=tstr(t2))
    obj = {"payload_enc": kt, "payload_key_len": n, "payload_key": key.hex(), "key_starttime": t1,
           "key_endtime": t2}
    return "key_exchange", v, obj, P(">BH", kt, n) + key + tbytes(t1) + tbytes(t2), {}


KINDS = {
    2016: [(m_login, 10), (lambda g, e, c: m_logout(g, e, c, 4), 5), (m_plt_login, 5),
           (lambda g, e, c: m_logout(g, e, c, 6), 4), (lambda g, e, c: m_empty(g, e, c, 7), 4),
           (lambda g, e, c: m_empty(g, e, c, 8), 2), (lambda g, e, c: m_data(g, e, c, 2), 45),
           (lambda g, e, c: m_data(g, e, c, 3), 12), (m_response, 12)],
    2025: [(m_login, 9), (lambda g, e, c: m_logout(g, e, c, 4), 4), (m_plt_login, 4),
           (lambda g, e, c: m_logout(g, e, c, 6), 3), (lambda g, e, c: m_empty(g, e, c, 7), 3),
           (lambda g, e, c: m_empty(g, e, c, 8), 2), (lambda g, e, c: m_data(g, e, c, 2), 42),
           (lambda g, e, c: m_data(g, e, c, 3), 10), (m_response, 10), (m_activation, 5),
           (m_activation_response, 3), (m_key_exchange, 3)],
}


# --------------------------------------------------------------------------------------
# build with rtm_con, verify, emit
# --------------------------------------------------------------------------------------

def frame_bytes(ed, v, payload):
    if len(payload) > 65531:
        raise ScriptBug("data unit too long")
    body = P(">BB", v["command"], v["response"]) + v["vin"].encode().ljust(17, b"\0") + \
        P(">BH", v["encryption"], len(payload)) + payload
    bcc = 0
    for x in body:
        bcc ^= x
    return (b"##" if ed == 2016 else b"$$") + body + bytes([bcc])


def enum_int(x):
    """Raw integer of a construct Enum value (EnumIntegerString carries .int)."""
    return int(x.int) if hasattr(x, "int") else int(x)


def one_frame(g, ed, ctx):
    fns, weights = zip(*KINDS[ed])
    fn = g.r.choices(fns, weights=weights)[0]
    kind, v, pobj, payload, kw = fn(g, ed, ctx)
    pem = kw.pop("pem", None)
    expected = frame_bytes(ed, v, payload)
    obj = msg_obj(ed, v, pobj)
    try:
        built = msg_checked.build(obj, **kw)
    except Exception as e:  # noqa: BLE001
        raise RtmFault(f"rtm_con build failed: {type(e).__name__}: {e}") from e
    if built != expected:
        raise ScriptBug(f"{kind}: rtm_con built {built.hex()} but independent encoder gives {expected.hex()}")
    # rtm_con's checksum-verifying parse (and RSA verification when a key was used)
    try:
        if "private_key" in kw:
            parsed = msg_checked.check(built, kw["private_key"].public_key())
        else:
            parsed = msg_checked.parse(built)
    except Exception as e:  # noqa: BLE001
        raise RtmFault(f"rtm_con parse failed: {type(e).__name__}: {e}") from e
    hdr = (enum_int(parsed.msg_type), enum_int(parsed.ack), parsed.vin, enum_int(parsed.enc))
    if hdr != (v["command"], v["response"], v["vin"], v["encryption"]):
        raise RtmFault(f"header mismatch after parse: {parsed.msg_type} {parsed.vin!r}")
    if "blocks" in v:
        got = [enum_int(item.data_type) for item in parsed.payload.data_list]
        want = [b["type"] for b in v["blocks"]]
        if got != want:
            raise RtmFault(f"rtm_con parsed block types {got}, built {want}")
    try:
        rebuilt = msg_checked.build(parsed)
    except Exception as e:  # noqa: BLE001
        raise RtmFault(f"rtm_con rebuild of its parse failed: {type(e).__name__}: {e}") from e
    if rebuilt != built:
        raise RtmFault("rtm_con rebuild of its parse differs")
    return kind, v, built, pem


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--edition", choices=["2016", "2025", "both"], default="both")
    ap.add_argument("--strict", action="store_true", help="exit 1 on any rtm_con fault instead of regenerating")
    a = ap.parse_args(argv)
    if a.count < 0:
        ap.error("--count must be >= 0")
    if not HAVE_CRYPTO:
        log("rtm_gen: 'cryptography' not installed (pip install 'rtm_con[sig]==1.0.4'): no RSA signatures")
    rng = random.Random(a.seed)
    ctx = {"seed": a.seed}
    stats, faults = Counter(), Counter()
    out = sys.stdout
    for i in range(a.count):
        ed = {"2016": 2016, "2025": 2025}.get(a.edition) or rng.choice([2016, 2025])
        for attempt in range(50):
            p_sent = rng.choice([0.0, 0.03, 0.08, 0.08, 0.5])
            g = Gen(rng, p_sent)
            try:
                kind, v, built, pem = one_frame(g, ed, ctx)
            except RtmFault as e:
                faults[str(e)[:120]] += 1
                log(f"rtm_gen: frame {i} attempt {attempt}: {e}")
                if a.strict:
                    return 1
                continue
            except ScriptBug as e:
                log(f"rtm_gen: BUG: frame {i}: {e}")
                return 1
            break
        else:
            log(f"rtm_gen: frame {i}: gave up after 50 attempts")
            return 1
        rec = {"name": f"{ed}_{kind}_s{a.seed}_{i:05d}", "edition": str(ed), "hex": built.hex().upper(),
               "values": v}
        if pem:
            rec["public_key_pem"] = pem
        out.write(json.dumps(rec, ensure_ascii=True, separators=(",", ":")) + "\n")
        stats[f"{ed}_{kind}"] += 1
    out.flush()
    log("rtm_gen: " + ", ".join(f"{k}={n}" for k, n in sorted(stats.items())) +
        (f"; regenerated after rtm_con faults: {sum(faults.values())}" if faults else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
