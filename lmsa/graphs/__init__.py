"""Graph assembly. Library functions return uncompiled builders; callers compile with their own
checkpointer (the LangGraph server brings its own persistence)."""
