"""One module per graph node. Each exposes ``make_<node>(services)`` returning the node function,
so services are bound once while per-run values come from the runtime context."""
