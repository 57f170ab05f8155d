#!/usr/bin/env bash
# Brings Cyrus IMAP 3.6's POP3 server (Debian 12's cyrus-pop3d) onto this
# machine for popview's interop tests, without installing it as a package:
#
# - cyrus-pop3d can't be installed next to dovecot-pop3d (both provide
#   pop3-server and conflict), and installing cyrus-common pulls in an MTA
#   (exim4) and cyrus-imapd. So cyrus-common, cyrus-pop3d and sasl2-bin (for
#   saslpasswd2) are fetched with `apt-get download` and unpacked with
#   `dpkg -x` into one directory ($POPVIEW_CYRUS_DIR, default
#   /opt/popview-cyrus). Nothing under /etc is touched, no service started.
# - Only the shared libraries those binaries need are installed as packages
#   (plain libraries, no services).
#
# Idempotent: a second run checks the unpacked binaries and exits at once.
# Prints the directory on its last line. The tests (tests/support/cyrus.rs)
# run `master` from there with LD_LIBRARY_PATH set to its library dir.
set -euo pipefail

DEST=${POPVIEW_CYRUS_DIR:-/opt/popview-cyrus}
PKGS=(cyrus-common cyrus-pop3d sasl2-bin)
# Runtime libraries of master, pop3d, lmtpd, ctl_cyrusdb and saslpasswd2
# (from cyrus-common's Depends, less the ones only other Cyrus tools use),
# plus the SASL plugins: sasldb (auxprop) and PLAIN/LOGIN.
LIBS=(libical3 libpcre3 libxapian30 libjansson4 libpq5 libicu72 libxml2
    libsqlite3-0 libssl3 libkrb5-3 libldap-2.5-0 libcom-err2 libwrap0 zlib1g
    libsasl2-2 libsasl2-modules libsasl2-modules-db)
BINS=(usr/lib/cyrus/bin/master usr/lib/cyrus/bin/pop3d usr/lib/cyrus/bin/lmtpd
    usr/lib/cyrus/bin/ctl_cyrusdb usr/sbin/saslpasswd2)

export DEBIAN_FRONTEND=noninteractive

# True when every binary is there and resolves all its libraries.
check() {
    local root=$1 b out
    for b in "${BINS[@]}"; do
        [[ -x $root/$b ]] || return 1
        out=$(LD_LIBRARY_PATH=$root/usr/lib/x86_64-linux-gnu ldd "$root/$b" 2>&1) || return 1
        if grep -q 'not found' <<<"$out"; then
            grep 'not found' <<<"$out" | sed "s|^|$b: |" >&2
            return 1
        fi
    done
    [[ -e /usr/lib/x86_64-linux-gnu/sasl2/libsasldb.so ]] || return 1
}

# --check: only say (by the exit code) whether it is already unpacked.
if [[ ${1:-} == --check ]]; then
    [[ -f $DEST/.popview-cyrus ]] && check "$DEST" 2>/dev/null
    exit
fi

if [[ -f $DEST/.popview-cyrus ]] && check "$DEST" 2>/dev/null; then
    echo "Cyrus pop3d already unpacked: $(cat "$DEST/.popview-cyrus")" >&2
    echo "$DEST"
    exit 0
fi

updated=no
apt_update_once() {
    if [[ $updated == no ]]; then
        apt-get update -qq
        updated=yes
    fi
}

missing=()
for p in "${LIBS[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    apt_update_once
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# apt's download sandbox user must be able to write there.
chmod 755 "$work"
if id _apt >/dev/null 2>&1; then chown _apt "$work"; fi
if ! (cd "$work" && apt-get download -qq "${PKGS[@]}"); then
    apt_update_once
    (cd "$work" && apt-get download -qq "${PKGS[@]}")
fi

stage=$DEST.new.$$
rm -rf "$stage"
mkdir -p "$stage"
versions=()
for deb in "$work"/*.deb; do
    dpkg -x "$deb" "$stage"
    versions+=("$(dpkg-deb -f "$deb" Package)=$(dpkg-deb -f "$deb" Version)")
done
# The packages' own /etc, /var and init files are never used: the tests
# write their own imapd.conf and cyrus.conf.
rm -rf "$stage/etc" "$stage/var" "$stage/lib" "$stage/usr/share/doc" "$stage/usr/share/man"
echo "${versions[*]}" >"$stage/.popview-cyrus"
if ! check "$stage"; then
    echo "cyrus-setup: unpacked binaries in $stage don't resolve their libraries" >&2
    exit 1
fi
rm -rf "$DEST"
mv "$stage" "$DEST"
echo "Cyrus pop3d unpacked: ${versions[*]}" >&2
echo "$DEST"
