"""One renderer per CMS family, by family id."""

from .founder_classic import FounderClassic
from .founder_new import FounderNew
from .jfdaily import Jfdaily
from .paperindex import PaperIndex
from .whb import Whb
from .xmwb import Xmwb

RENDERERS = {r.family: r for r in (FounderNew, FounderClassic, PaperIndex, Xmwb, Whb, Jfdaily)}
