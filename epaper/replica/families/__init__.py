"""One renderer per CMS family, by family id."""

from .founder_new import FounderNew

RENDERERS = {r.family: r for r in (FounderNew,)}
