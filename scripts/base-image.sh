#!/bin/sh
# Makes sure the base images the Dockerfiles name exist in the local Docker
# engine, so `docker build` never needs a registry.
#
#   scripts/base-image.sh model/Dockerfile api/Dockerfile
#
# For each image in a FROM line (debian:12.11-slim) that the engine lacks:
#   1. docker pull it (a laptop with Docker Hub gets the official image);
#   2. if that fails (no registry reachable), build a stand-in: debootstrap
#      --variant=minbase of the Debian suite from the mirror this host's apt
#      uses, trimmed the way the official slim image is (no docs, man pages or
#      apt lists; deb822 sources; CMD bash), and `docker import` it under the
#      exact tag. The Dockerfiles stay unchanged either way.
# An image that exists is left alone, so this is quick after the first run.
set -eu

log() { echo "base-image: $*"; }
die() { echo "base-image: error: $*" >&2; exit 1; }

[ $# -gt 0 ] || die "usage: $0 DOCKERFILE..."

# The mirror this host's apt uses for Debian itself (not -security).
host_mirror() {
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
             /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        m=$(grep -E '^[[:space:]]*(deb[[:space:]]|URIs:)' "$f" |
            grep -o -E 'https?://[^[:space:]]+/debian/?([[:space:]]|$)' |
            head -n 1 | tr -d '[:space:]' | sed 's:/*$::')
        [ -n "$m" ] && { echo "$m"; return 0; }
    done
    return 1
}

suite_of() {
    case "$1" in
    debian:12*|debian:bookworm*) echo bookworm ;;
    *) return 1 ;;
    esac
}

# Writes the official image's trimmings into the root filesystem $1.
slim_rootfs() {
    root=$1
    mirror=$2
    suite=$3
    rm -f "$root/etc/apt/sources.list"
    cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    if [ "$mirror" != "http://deb.debian.org/debian" ]; then
        sed -i "s|http://deb.debian.org/debian\$|$mirror|" \
            "$root/etc/apt/sources.list.d/debian.sources"
    fi
    # What debuerreotype does for the official slim variant.
    cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/docker-no-languages"
    printf 'Acquire::GzipIndexes "true";\nAcquire::CompressionTypes::Order:: "gz";\n' \
        >"$root/etc/apt/apt.conf.d/docker-gzip-indexes"
    printf 'Apt::AutoRemove::SuggestsImportant "false";\n' \
        >"$root/etc/apt/apt.conf.d/docker-autoremove-suggests"
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
    chmod 755 "$root/usr/sbin/policy-rc.d"
    find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$root/usr/share/man/"* "$root/usr/share/info/"* \
        "$root/usr/share/lintian/"* "$root/usr/share/groff/"*
    find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 \
        -not -name locale.alias -exec rm -rf {} +
    rm -rf "$root/var/lib/apt/lists/"* "$root/var/cache/apt/"*.bin \
        "$root/var/cache/apt/archives/"*.deb "$root/var/log/"*.log \
        "$root/var/log/apt/"* "$root/tmp/"* "$root/root/.bash_history"
    # Docker provides these at run time.
    : >"$root/etc/resolv.conf"
    : >"$root/etc/hostname"
    : >"$root/etc/machine-id"
}

build_base() {
    image=$1
    suite=$(suite_of "$image") || die "no recipe for '$image' (only Debian bookworm)"
    command -v debootstrap >/dev/null 2>&1 ||
        "$(dirname "$0")/install-deps.sh" images
    command -v debootstrap >/dev/null 2>&1 ||
        die "debootstrap is missing: apt-get install debootstrap"
    mirror=$(host_mirror) || mirror=http://deb.debian.org/debian
    root=$(mktemp -d "${TMPDIR:-/tmp}/base-image.XXXXXX")
    trap cleanup EXIT
    trap 'exit 1' INT TERM
    log "debootstrap --variant=minbase $suite from $mirror (a few minutes)"
    debootstrap --variant=minbase "$suite" "$root" "$mirror" \
        >"$root.log" 2>&1 || { tail -20 "$root.log" >&2; die "debootstrap failed (log: $root.log)"; }
    rm -f "$root.log"
    slim_rootfs "$root" "$mirror" "$suite"
    log "docker import as $image"
    # POSIX sh has no pipefail: tar writes to a file first, so that a failed
    # tar is seen rather than imported as a truncated image.
    tar --numeric-owner -C "$root" -c -f "$root.tar" . ||
        die "tar of the root filesystem failed"
    docker import --change 'CMD ["bash"]' \
        --message "debootstrap --variant=minbase $suite, slimmed (scripts/base-image.sh)" \
        "$root.tar" "$image" >/dev/null || die "docker import of $image failed"
    rm -f "$root.tar"
    docker run --rm --pull never "$image" true ||
        die "the imported $image does not run"
    cleanup
    trap - EXIT INT TERM
}

# debootstrap mounts /proc and /sys in the target; unmount before removing.
cleanup() {
    [ -n "${root:-}" ] && [ -d "$root" ] || return 0
    for m in proc sys dev/pts; do
        umount "$root/$m" 2>/dev/null || true
    done
    rm -rf "$root" "$root.tar"
    root=
}

images=$(sed -n 's/^FROM[[:space:]]\{1,\}\([^[:space:]]*\).*/\1/p' "$@" | sort -u)
stages=$(sed -n 's/^FROM.*[[:space:]][Aa][Ss][[:space:]]\{1,\}\([^[:space:]]*\).*/\1/p' "$@" | sort -u)
for image in $images; do
    # scratch is Docker's empty image, not one to pull or make.
    if [ "$image" = scratch ] || echo "$stages" | grep -qxF "$image"; then
        continue
    fi
    if docker image inspect "$image" >/dev/null 2>&1; then
        log "$image is present"
        continue
    fi
    log "$image is missing: trying docker pull"
    if docker pull -q "$image" >/dev/null 2>&1; then
        log "pulled $image"
        continue
    fi
    log "cannot pull $image: building it locally"
    build_base "$image"
done
