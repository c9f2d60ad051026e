"""One renderer per CMS family, by family id."""

from .founder_classic import FounderClassic
from .founder_new import FounderNew
from .paperindex import PaperIndex

RENDERERS = {r.family: r for r in (FounderNew, FounderClassic, PaperIndex)}
