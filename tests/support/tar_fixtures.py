"""Tarballs for test_tar_stream, and what each holds as Python's tarfile reads it.

Usage: tar_fixtures.py DIR. Writes DIR/src (the files), tarballs written by GNU tar (gnu and pax
formats) and by tarfile (pax and GNU formats: long names and long link targets as pax records
and as GNU 'L'/'K' headers; a size only in a pax record), each also as NAME.gz (gzip -n) and NAME.2gz (two gzip members,
split at an odd byte). For each tarball, NAME.members lists its file and link members in order,
one per line, tab-separated: type (F, H, S), name and link target as cli/tar.c cleans them ("-"
for none; a symbolic link's joined to its directory), size (0 for links), the data's SHA-256,
the offset of the member's first header (an extended one when there is one) and of its data.
"""
import hashlib
import io
import os
import random
import subprocess
import sys
import tarfile


def clean(name):
    return "/".join(p for p in name.split("/") if p not in ("", "."))


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def make_sources(src):
    rng = random.Random(7919)
    rand = lambda n: bytes(rng.getrandbits(8) for _ in range(n)) if n < 4096 else rng.randbytes(n)
    write(f"{src}/empty", b"")
    write(f"{src}/one", b"x")
    for n in (511, 512, 513, 4097):
        write(f"{src}/b{n}", rand(n))
    write(f"{src}/text.txt", b"".join(b"line %d of a compressible file\n" % i for i in range(8000)))
    write(f"{src}/big1", rand((1 << 20) + 3))
    write(f"{src}/big2", rand((5 << 19) + 1))
    write(f"{src}/{'d' * 60}/{'e' * 60}/deep.bin", rand(700))
    write(f"{src}/long/{'n' * 150}.bin", rand(1500))
    os.makedirs(f"{src}/links", exist_ok=True)
    os.symlink("../text.txt", f"{src}/links/sym")
    os.symlink("x" * 120, f"{src}/links/longsym")
    os.link(f"{src}/one", f"{src}/links/hard")


def members(path):
    lines = []
    with tarfile.open(path) as t:
        for m in t:
            name = clean(m.name)
            if m.isreg() and not m.islnk():
                data = t.extractfile(m).read()
                kind, link, size = "F", "-", len(data)
                digest = hashlib.sha256(data).hexdigest()
            elif m.islnk() or m.issym():
                kind, size, digest = ("H" if m.islnk() else "S"), 0, "-"
                link = m.linkname
                if m.issym() and "/" in name:
                    link = name.rsplit("/", 1)[0] + "/" + link
                link = clean(link)
            else:
                continue
            lines.append(f"{kind}\t{name}\t{link}\t{size}\t{digest}\t{m.offset}\t{m.offset_data}\n")
    return "".join(lines)


def paxsize(src):
    """A member whose size is only in a pax record, its header's field 0: how Go's archive/tar
    (docker save) and tarfile write members of 8 GiB and more. Then one more member."""
    with open(f"{src}/b4097", "rb") as f:
        data = f.read()
    pax = tarfile.TarInfo._create_pax_generic_header({"size": str(len(data))}, tarfile.XHDTYPE,
                                                       "utf-8")
    head = tarfile.TarInfo("img/paxsize.bin")
    head.size = 0
    pad = b"\0" * (-len(data) % 512)
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.USTAR_FORMAT) as t:
        t.add(f"{src}/b513", arcname="img/after")
    return pax + head.tobuf(tarfile.USTAR_FORMAT) + data + pad + b.getvalue()


def gzip(data):
    return subprocess.run(["gzip", "-n", "-c"], input=data, stdout=subprocess.PIPE, check=True).stdout


def main():
    out = sys.argv[1]
    src = f"{out}/src"
    make_sources(src)
    subprocess.run(["tar", "--sort=name", "-C", src, "-cf", f"{out}/gnu.tar", "."], check=True)
    subprocess.run(["tar", "--sort=name", "--format=pax", "-C", src, "-cf", f"{out}/pax.tar", "."],
                   check=True)
    for name, fmt in (("py-pax", tarfile.PAX_FORMAT), ("py-gnu", tarfile.GNU_FORMAT)):
        with tarfile.open(f"{out}/{name}.tar", "w", format=fmt) as t:
            t.add(src, arcname="img")
    # A first member whose name begins like bzip2's magic is still a tar.
    with tarfile.open(f"{out}/bzname.tar", "w", format=tarfile.USTAR_FORMAT) as t:
        t.add(f"{src}/b511", arcname="BZh9-not-bzip2")
    write(f"{out}/paxsize.tar", paxsize(src))
    for name in ("gnu", "pax", "py-pax", "py-gnu", "bzname", "paxsize"):
        with open(f"{out}/{name}.tar", "rb") as f:
            data = f.read()
        with open(f"{out}/{name}.members", "w") as f:
            f.write(members(f"{out}/{name}.tar"))
        write(f"{out}/{name}.tar.gz", gzip(data))
        cut = len(data) // 3 + 77
        write(f"{out}/{name}.tar.2gz", gzip(data[:cut]) + gzip(data[cut:]))


main()
