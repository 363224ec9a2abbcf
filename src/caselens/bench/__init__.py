"""Speed and memory benchmarks (``caselens bench …``). Nothing at run time imports this package;
each module is one benchmark."""

__all__: list[str] = []
