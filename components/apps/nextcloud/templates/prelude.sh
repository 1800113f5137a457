set -eu

log() {
    printf 'selfhost: %s\n' "$*" >&2
}

occ() {
    php {{ occ }} --no-interaction --no-ansi "$@"
}
