#!/bin/sh
# Assembles the root filesystem of a container image that holds one program
# and only what it needs to run, as "distroless" images do:
#   - the program, at /usr/local/bin/<name>;
#   - every shared library ldd lists for it, and the dynamic loader, at the
#     paths ldd prints (symlinks resolved: the loader's default search path
#     finds them without an ld.so.cache);
#   - the CA certificates libcurl reads for S3 over TLS;
#   - /etc/passwd and /etc/group with root and nonroot (65532), so tools
#     that map the uid to a name find one;
#   - /models owned by 65532 (a Docker named volume copies that ownership)
#     and /tmp (1777).
# No shell, no package manager, no compiler: nothing runs in the image but
# the program. Run in a build stage that has the program's runtime
# libraries installed (the -dev packages pull them in) and ca-certificates.
#
#   scripts/rootfs.sh PROGRAM DEST
# Exits non-zero when ldd fails or a library is not found.
set -eu

prog=$1
dest=$2
name=$(basename "$prog")

mkdir -p "$dest/usr/local/bin" "$dest/etc/ssl/certs" "$dest/tmp" "$dest/models"
cp "$prog" "$dest/usr/local/bin/$name"

# ldd's lines: "libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)",
# "/lib64/ld-linux-x86-64.so.2 (0x...)", "linux-vdso.so.1 (0x...)" (the
# kernel's, not a file). Captured first: a failing ldd must fail the build.
libs=$(ldd "$prog")
if printf '%s\n' "$libs" | grep -F 'not found'; then
    echo "rootfs: $prog: a shared library is missing" >&2
    exit 1
fi
for lib in $(printf '%s\n' "$libs" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
    mkdir -p "$dest$(dirname "$lib")"
    cp -L "$lib" "$dest$lib"
done

cp -L /etc/ssl/certs/ca-certificates.crt "$dest/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n' \
    >"$dest/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$dest/etc/group"
chown 65532:65532 "$dest/models"
chmod 0755 "$dest/models"
chmod 1777 "$dest/tmp"
