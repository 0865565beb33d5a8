"""What the command policy knows about programs: which only read, which take paths, which
delete, escalate, reach the network, publish, or have subcommands with their own rules.

These tables are the knowledge a generic shell parser would not have; the analyser and the
handlers only look things up here.
"""

from __future__ import annotations

import re

SAFE_DEVICES = ("/dev/null", "/dev/zero", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/fd/")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


READ_NO_PATHS = _words(
    """
    echo printf date whoami id uname true false seq sleep pwd hostname nproc arch tty groups
    users who w uptime free locale getconf printenv yes basename dirname expr test [ [[ ]]
    which type whereis ps pgrep lscpu lsblk jobs export unset shift exit return break
    continue wait : cal bc dc factor numfmt env tput clear history hash alias
    """
)
READ_PATHS = _words(
    """
    ls dir vdir cat head tail wc tree file stat du df diff cmp comm cut tr nl less more jq
    realpath readlink md5sum sha1sum sha224sum sha256sum sha384sum sha512sum b2sum cksum sum
    od hexdump xxd strings tac rev fold expand unexpand column paste join look zcat bzcat
    xzcat zless zmore lsattr getfacl man info whatis cloc tokei namei pr fmt iconv base64
    base32 shasum md5 cd pushd popd source . uniq
    """
)
PATTERN_FIRST = _words("grep egrep fgrep rg ag ack zgrep")
DELETERS = _words("rm rmdir unlink shred srm wipe")
MODIFIERS = _words("touch mkdir truncate tee install")
PRIVILEGE = _words(
    """
    sudo su doas pkexec runuser chroot setpriv capsh setcap nsenter visudo passwd chpasswd
    useradd usermod userdel groupadd groupmod groupdel adduser deluser vipw newgrp sg
    """
)
DISK = _words(
    """
    mkfs mke2fs mkfs.ext2 mkfs.ext3 mkfs.ext4 mkfs.xfs mkfs.btrfs mkfs.vfat mkfs.fat
    mkfs.ntfs mkswap swapon swapoff fdisk sfdisk gdisk cfdisk parted wipefs blkdiscard
    hdparm badblocks lvremove vgremove pvremove lvcreate cryptsetup zpool zfs diskutil mount
    umount losetup fsck e2fsck tune2fs resize2fs debugfs
    """
)
PROCESS = _words(
    """
    kill killall killall5 pkill xkill skill slay shutdown reboot halt poweroff init telinit
    modprobe insmod rmmod sysctl iptables ip6tables nft ufw firewall-cmd launchctl
    """
)
NETWORK = _words(
    """
    nc ncat netcat socat telnet ssh scp sftp ftp tftp rsh rlogin rcp mosh sshpass smbclient
    lftp
    """
)
SHELLS = _words("sh bash zsh dash ksh fish csh tcsh ash busybox")
INTERPRETERS = _words(
    """
    python python2 python3 pypy pypy3 node nodejs deno bun ruby perl php lua luajit Rscript
    osascript pwsh powershell tclsh
    """
) | {f"python3.{minor}" for minor in range(6, 16)}
SYSTEM_PACKAGES = _words(
    """
    apt apt-get aptitude dpkg yum dnf rpm pacman zypper apk snap flatpak port emerge
    softwareupdate
    """
)
SYSTEM_PACKAGE_READS = _words(
    """
    list search show policy info query -l -L -s -q -Q -Ss -Si -Qi -Ql --list --search
    madison depends rdepends changelog --version -v
    """
)
DEV_TOOLS = _words(
    """
    pip pip3 uv pipx poetry pdm hatch conda mamba npm npx yarn pnpm cargo go gem bundle
    composer mvn gradle make cmake ninja meson pytest tox nox ruff mypy black isort flake8
    pylint eslint prettier tsc jest vitest gcc g++ cc c++ clang clang++ rustc javac java
    dotnet swift kotlinc scalac ghc stack cabal mix elixir erl rebar3 twine pre-commit
    coverage sphinx-build mkdocs
    """
)
DEV_READS = {
    "pip": {"list", "show", "freeze", "check", "--version", "-V", "help", "index", "inspect"},
    "pip3": {"list", "show", "freeze", "check", "--version", "-V", "help", "inspect"},
    "npm": {"ls", "list", "view", "info", "outdated", "help", "--version", "-v", "why"},
    "yarn": {"list", "info", "why", "--version", "-v"},
    "pnpm": {"list", "ls", "why", "--version", "-v"},
    "cargo": {"--version", "-V", "tree", "metadata", "search", "help"},
    "go": {"version", "env", "list", "doc", "help"},
    "poetry": {"show", "--version", "check", "env", "help"},
    "uv": {"--version", "tree", "help"},
    "conda": {"list", "info", "search", "--version"},
    "gem": {"list", "search", "info", "--version", "environment"},
}
PUBLISH = {
    "npm": {"publish", "adduser", "login", "token"},
    "yarn": {"publish", "npm"},
    "pnpm": {"publish"},
    "cargo": {"publish", "login", "owner", "yank"},
    "twine": {"upload", "register"},
    "gem": {"push", "owner", "signin"},
    "poetry": {"publish"},
    "uv": {"publish"},
    "pdm": {"publish"},
    "hatch": {"publish"},
    "dotnet": {"nuget"},
    "mvn": {"deploy"},
    "gradle": {"publish"},
}
GIT_READS = _words(
    """
    status log diff show rev-parse ls-files ls-tree blame describe shortlog grep cat-file
    whatchanged count-objects help version reflog rev-list name-rev merge-base show-ref
    for-each-ref var check-ignore annotate difftool --version
    """
)
GIT_LISTINGS = {
    "branch": {
        "-a",
        "-r",
        "-v",
        "-vv",
        "--list",
        "-l",
        "--all",
        "--show-current",
        "--merged",
        "--no-merged",
        "--contains",
    },
    "tag": {"-l", "--list", "-n", "--contains"},
    "remote": {"-v", "show", "get-url", "--verbose"},
    "stash": {"list", "show"},
    "worktree": {"list"},
    "config": {"--get", "--get-all", "--list", "-l", "--get-regexp", "--show-origin"},
    "submodule": {"status", "summary"},
    "notes": {"list", "show"},
}
GIT_DANGEROUS_KEYS = re.compile(
    r"(^alias\.|sshcommand|pager|fsmonitor|hookspath|editor|external|textconv|askpass|"
    r"credential|\.command$|^core\.gitproxy|^protocol\.|^url\.)",
    re.IGNORECASE,
)
DOCKER_READS = _words("ps images inspect logs version info top stats port history")
DOCKER_DESTROY = _words("rm rmi kill stop prune system volume network push login")
WRAPPERS_NO_ARGS = frozenset(
    {
        "nohup",
        "time",
        "builtin",
        "exec",
        "command",
        "then",
        "do",
        "else",
        "elif",
        "if",
        "while",
        "until",
        "!",
        "{",
        "}",
    }
)
SYSTEMCTL_READS = _words(
    """
    status show list-units list-unit-files list-timers list-sockets is-active is-enabled
    is-failed cat help --version
    """
)
