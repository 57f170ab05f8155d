#!/usr/bin/env bash
# Run each popview fuzz target for a bounded time (cargo-fuzz / libFuzzer).
#
#   fuzz/run.sh                 # every target, 60 s each
#   FUZZ_SECONDS=300 fuzz/run.sh response_reader
#
# Seeds: tests/fixtures/mail/*.eml, assets/demo/*.eml and the kept
# regression files in tests/fixtures/fuzz/<target>/. New crashes land in
# fuzz/artifacts/<target>/: minimize them (cargo fuzz tmin), copy them into
# tests/fixtures/fuzz/<target>/, and `cargo test --test fuzz_regressions`
# replays them.
#
# cargo-fuzz needs nightly compiler flags (-Z sanitizer, -Cpasses=sancov):
# it uses a `nightly` toolchain when rustup has one, else RUSTC_BOOTSTRAP=1
# on stable. FUZZ_TARGET_DIR overrides the build dir (default fuzz/target).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
seconds="${FUZZ_SECONDS:-60}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(response_reader mail_render client_session html_time)
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz=(cargo +nightly fuzz)
else
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
fi
extra=()
if [ -n "${FUZZ_TARGET_DIR:-}" ]; then
    extra=(--target-dir "$FUZZ_TARGET_DIR")
fi
cd "$root"
for t in "${targets[@]}"; do
    corpus="$here/corpus/$t"
    mkdir -p "$corpus" "$here/artifacts/$t"
    cp -n "$root"/tests/fixtures/fuzz/"$t"/* "$corpus"/ 2>/dev/null || true
    if [ "$t" = client_session ]; then
        :
    elif [ "$t" = html_time ]; then
        cp -n "$root"/tests/fixtures/fuzz/"$t"/* "$corpus"/ 2>/dev/null || true
    elif [ "$t" = mail_render ]; then
        cp -n "$root"/tests/fixtures/mail/*.eml "$root"/assets/demo/*.eml "$corpus"/ 2>/dev/null || true
    else
        # Server-side bytes: prefix each mail with 3 parameter bytes and a
        # +OK line so the reader gets to the body.
        for f in "$root"/tests/fixtures/mail/*.eml; do
            out="$corpus/seed-$(basename "$f")"
            [ -e "$out" ] || { printf '\x07\x00\xff+OK\r\n'; cat "$f"; printf '\r\n.\r\n'; } > "$out"
        done
    fi
    echo "== $t: ${seconds}s"
    "${fuzz[@]}" run "${extra[@]}" --fuzz-dir "$here" "$t" "$corpus" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -timeout=10 \
        -artifact_prefix="$here/artifacts/$t/" -print_final_stats=1
done
