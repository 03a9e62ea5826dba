"""Quality-control flag bits (CF ``flag_masks`` / ``flag_meanings``).

Each observed variable ``X`` has a companion ``X_qc`` (uint16) holding the OR of these bits.
A bit marked *invalidates* means the value was set to NaN by quality control (a documented
repair); the others only flag the value and leave it in place.
"""

from __future__ import annotations

from enum import IntFlag


class QC(IntFlag):
    MISSING = 1  #: no value at this hour (absent row or empty cell)
    SENTINEL = 2  #: invalidates: a sentinel such as -999 or 9999 was published
    NEGATIVE = 4  #: invalidates: a negative concentration
    IMPOSSIBLE = 8  #: invalidates: above the physical limit in ``variables.VARIABLES``
    STUCK = 16  #: invalidates: the same value repeated for many hours (stuck sensor)
    SPIKE = 32  #: flag only: an isolated jump far above both neighbours
    DUPLICATE = 64  #: flag only: several rows for this hour, resolved deterministically
    PM25_GT_PM10 = 128  #: flag only: PM2.5 exceeds PM10 by more than the tolerance


FLAG_MEANINGS = " ".join(f.name.lower() for f in QC if f.name)
FLAG_MASKS = [int(f) for f in QC]
