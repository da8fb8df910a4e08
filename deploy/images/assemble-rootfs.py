#!/usr/bin/env python3
"""Assembles a root filesystem for a local stand-in base image from this machine's installed files.

    assemble-rootfs.py ROOTFS [--package NAME ...] [--path PATH ...] [--exclude GLOB ...] [--busybox APPLET ...]

--package copies every file the installed Debian package NAME owns (dpkg -L), minus documentation;
--path copies a file or a whole folder; --exclude leaves out paths matching a glob (fnmatch, on the host path);
--busybox links each APPLET to /usr/bin/busybox unless a real program of that name is already there.
Then every ELF file in the tree gets the shared libraries `ldd` says it needs (and so on, until nothing is
missing). The tree has the merged-/usr layout of Debian 12 (bin, sbin, lib, lib64 are links into usr/), and
each file lands at its canonical place, so the same file is never copied twice. Used by
build-local-base-images.sh; see docs/deploy-compose.md, "Local stand-ins for the base images".
"""
import argparse
import fnmatch
import os
import shutil
import subprocess
import sys

DOCS = ["/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*",
        "/usr/share/lintian/*", "/usr/share/bug/*", "/usr/share/bash-completion/*", "/usr/share/menu/*"]


def canonical(path):
    """The host path with every directory link resolved, the file name itself kept."""
    return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))


class Tree:
    def __init__(self, root, excludes):
        self.root = root
        self.excludes = DOCS + excludes
        self.copied = set()
        self.elves = []

    def excluded(self, path):
        return any(fnmatch.fnmatch(path, g) or fnmatch.fnmatch(canonical(path), g) for g in self.excludes)

    def target(self, host_path):
        return os.path.join(self.root, canonical(host_path).lstrip("/"))

    def add_tree(self, host_path):
        """A file, or a folder with everything in it."""
        if not os.path.isdir(host_path):
            self.add(host_path)
            return
        for folder, folders, files in os.walk(host_path):
            os.makedirs(self.target(folder), exist_ok=True)
            # Links to folders are recreated as links, not walked.
            for name in files + [f for f in folders if os.path.islink(os.path.join(folder, f))]:
                self.add(os.path.join(folder, name))

    def add(self, host_path):
        """One file or link (a link's target too, unless it is a folder)."""
        if os.path.isdir(host_path) and not os.path.islink(host_path):
            os.makedirs(self.target(host_path), exist_ok=True)
            return
        path = canonical(host_path)
        if path in self.copied or self.excluded(host_path):
            return
        if not os.path.lexists(path):
            sys.exit(f"assemble-rootfs: {host_path} does not exist on this machine")
        self.copied.add(path)
        dest = self.target(path)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if os.path.islink(path):
            link = os.readlink(path)
            if os.path.lexists(dest):
                os.remove(dest)
            os.symlink(link, dest)
            resolved = os.path.join(os.path.dirname(path), link) if not link.startswith("/") else link
            if not os.path.isdir(resolved):
                self.add(resolved)
            return
        shutil.copy2(path, dest)
        with open(path, "rb") as f:
            if f.read(4) == b"\x7fELF":
                self.elves.append(path)

    def add_package(self, name):
        listing = subprocess.run(["dpkg-query", "-L", name], capture_output=True, text=True)
        if listing.returncode != 0:
            sys.exit(f"assemble-rootfs: package {name} is not installed (apt-get install -y {name})")
        for path in listing.stdout.splitlines():
            # Folders (and the merged-/usr links /bin, /lib, ...) come with the files in them.
            if path.startswith("/") and not os.path.isdir(path) and os.path.lexists(path):
                self.add(path)

    def add_libraries(self):
        done = 0
        while done < len(self.elves):
            elf = self.elves[done]
            done += 1
            out = subprocess.run(["ldd", elf], capture_output=True, text=True).stdout
            for line in out.splitlines():
                line = line.strip()
                if "not found" in line:
                    sys.exit(f"assemble-rootfs: {elf} needs {line}, which this machine lacks")
                if "=>" in line:
                    lib = line.split("=>", 1)[1].strip().split(" ")[0]
                elif line.startswith("/"):
                    lib = line.split(" ")[0]
                else:
                    continue
                if lib.startswith("/"):
                    self.add(lib)
                    self.add(os.path.realpath(lib))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("--package", action="append", default=[])
    parser.add_argument("--path", action="append", default=[])
    parser.add_argument("--exclude", action="append", default=[])
    parser.add_argument("--busybox", action="append", default=[])
    args = parser.parse_args()

    root = args.root
    for d in ["usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "etc", "root", "tmp", "var/tmp", "proc", "sys", "dev", "run"]:
        os.makedirs(os.path.join(root, d), exist_ok=True)
    for link, target in [("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib"), ("lib64", "usr/lib64")]:
        if not os.path.lexists(os.path.join(root, link)):
            os.symlink(target, os.path.join(root, link))
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    os.chmod(os.path.join(root, "var/tmp"), 0o1777)
    os.chmod(os.path.join(root, "root"), 0o700)

    tree = Tree(root, args.exclude)
    for name in args.package:
        tree.add_package(name)
    for path in args.path:
        tree.add_tree(path)
    if args.busybox:
        tree.add("/usr/bin/busybox")
        for applet in args.busybox:
            dest = os.path.join(root, "usr/bin", applet)
            if not os.path.lexists(dest):
                os.symlink("busybox", dest)
    tree.add_libraries()
    print(f"assemble-rootfs: {len(tree.copied)} files, {len(tree.elves)} ELF", file=sys.stderr)


if __name__ == "__main__":
    main()
