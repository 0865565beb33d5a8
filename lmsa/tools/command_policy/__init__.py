"""Classifies a command line before it runs: read-only, modifies the workspace, or dangerous.

The model writes command lines, and a command line is a small program, so it is judged by
*parsing* it the way a POSIX shell would, never by looking for substrings: ``"r""m" -rf /`` is
``rm``, ``/bin/rm`` is ``rm``, ``cd / && rm -rf *`` deletes outside the workspace although no
argument says ``/*``, and ``echo "rm -rf /"`` deletes nothing.

How: :mod:`.lexer` cuts ``$(...)``, backticks and ``<(...)`` out to be judged on their own and
splits the rest into simple commands with their redirections; :mod:`.analyser` looks through
variable assignments and wrapper programs (``env``, ``nice``, ``timeout``, ``xargs``,
``sh -c`` ...), follows ``cd``, and judges each simple command from its program and arguments,
every path argument being resolved against the workspace jail (symlinks included), with
:mod:`.handlers` for programs that have subcommands or file operands and :mod:`.tables` for
what each program does. A line's class is the worst class of its parts.

Classes: ``read`` (reads only, inside the workspace), ``write`` (modifies the workspace, reads
outside it, talks to the network, or runs code whose effects cannot be known: the user is asked),
``dangerous`` (deletes or writes outside the workspace, escalates privileges, destroys disks,
processes or system state, sends data over the network, or cannot be analysed: always refused).
Unknown programs are ``write``: lmsa cannot know what they do, so the user decides.

Why hand-written: the only maintained Python shell parser (bashlex) is GPL-3, and a generic
parser would not know what ``rm`` or ``curl -d`` do anyway; the tables are the knowledge.
"""

from lmsa.tools.command_policy.analyser import CommandPolicy
from lmsa.tools.command_policy.verdict import CommandVerdict

__all__ = ["CommandPolicy", "CommandVerdict"]
