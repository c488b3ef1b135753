# Sourced by the project's scripts: Swift and the project's virtme-ng (scripts/setup.sh installs it
# into a virtual environment in the checker's cache) first on PATH.
if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi
checker_cache=${XDG_CACHE_HOME:-$HOME/.cache}/checker
if [[ -x $checker_cache/virtme-ng/bin/vng ]]; then
    export PATH="$checker_cache/virtme-ng/bin:$PATH"
fi
