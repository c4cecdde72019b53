#!/bin/sh
# Builds the container images from the repository root:
#   mini-ml/forest-train:TAG   model/Dockerfile
#   mini-ml/forest-serve:TAG   api/Dockerfile
# each also tagged with the git describe version. Missing base images are
# pulled or made locally first (scripts/base-image.sh).
#
#   scripts/build-images.sh [TAG [VERSION]]      TAG defaults to dev
#   IMAGES=forest-train scripts/build-images.sh  only the trainer
#   DOCKER_BUILD_FLAGS=--no-cache scripts/build-images.sh
set -eu

cd "$(dirname "$0")/.."
tag=${1:-dev}
version=${2:-$(git describe --tags --always --dirty 2>/dev/null || echo unknown)}
# A Docker tag allows [A-Za-z0-9_.-] only.
vtag=$(printf '%s' "$version" | tr -c 'A-Za-z0-9_.-' '-')
images=${IMAGES:-forest-train forest-serve}

command -v docker >/dev/null 2>&1 || { echo "build-images: error: docker is not installed" >&2; exit 1; }
docker info >/dev/null 2>&1 || {
    echo "build-images: error: cannot reach the Docker engine (is it running? with minikube: eval \$(minikube docker-env))" >&2
    exit 1
}

dockerfiles=""
for image in $images; do
    case $image in
    forest-train) dockerfiles="$dockerfiles model/Dockerfile" ;;
    forest-serve) dockerfiles="$dockerfiles api/Dockerfile" ;;
    *) echo "build-images: error: unknown image '$image'" >&2; exit 2 ;;
    esac
done
# shellcheck disable=SC2086 # word splitting intended
scripts/base-image.sh $dockerfiles

for image in $images; do
    case $image in
    forest-train) dockerfile=model/Dockerfile ;;
    forest-serve) dockerfile=api/Dockerfile ;;
    esac
    echo "build-images: building mini-ml/$image:$tag (version $version) from $dockerfile"
    # shellcheck disable=SC2086 # DOCKER_BUILD_FLAGS is a list of flags
    docker build ${DOCKER_BUILD_FLAGS:-} -f "$dockerfile" \
        --build-arg VERSION="$version" \
        -t "mini-ml/$image:$tag" -t "mini-ml/$image:$vtag" . ||
        { echo "build-images: error: building mini-ml/$image failed (see above)" >&2; exit 1; }
done

echo "build-images: done"
for image in $images; do
    docker image inspect -f "{{.Size}}" "mini-ml/$image:$tag" |
        awk -v n="mini-ml/$image:$tag" '{ printf "  %-28s %6.1f MB\n", n, $1 / 1e6 }'
done
