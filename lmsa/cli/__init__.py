"""The ``lmsa`` command line: chat, ask, doctor and thread management."""
