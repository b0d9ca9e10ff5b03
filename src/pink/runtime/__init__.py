"""The runtime: one task owns the kernel (``loop``), the launcher that builds and closes
everything around it (``launcher``), configuration (``config``), clocks, the executor,
recovery and the live view. Import from the modules; this package imports nothing, so
that ``pink status`` and ``pink control`` start fast."""
