"""The source kinds: every module here defines one `Source` subclass (stages/ingest/base.py), and importing
this package imports them all, which registers them (`stages.ingest.base.KINDS`). A new kind is a new module
here; nothing else lists the kinds."""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
