"""One renderer per CMS family, by the name its papers/families/ module registers
(tests/test_families.py checks that every built-in family has one)."""

from .founder_classic import FounderClassic
from .founder_new import FounderNew
from .jfdaily import Jfdaily
from .paperindex import PaperIndex
from .whb import Whb
from .xmwb import Xmwb

RENDERERS = {r.family: r for r in (FounderNew, FounderClassic, PaperIndex, Xmwb, Whb, Jfdaily)}
