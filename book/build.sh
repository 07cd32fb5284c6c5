#!/usr/bin/env bash
# Builds the book in English and in Korean, and with --check proves both
# whole:
#
#   book/build.sh             # build into book/book (English) and
#                             # book/book/ko (Korean; open book/book/index.html),
#                             # and every scenario as a page to step through
#                             # in a browser: book/book/runs/CAT/NAME.html
#   book/build.sh --check     # ... and fail if a generated file is stale, a
#                             # Rust example does not compile, a paragraph of
#                             # the English text has no Korean translation or
#                             # a stale one, or a page of either edition in
#                             # headless Chromium shows an undrawn diagram
#   book/build.sh --update-po # after editing the English text: merge it into
#                             # book/po/ko.po (changed paragraphs become
#                             # "fuzzy", new ones empty) and list what needs
#                             # translating
#
# The Korean edition uses mdbook-i18n-helpers' gettext workflow: the English
# Markdown is the source, book/po/ko.po the translations (see book.toml).
#
# Installs what is missing: mdbook and mdbook-i18n-helpers (pinned, with
# cargo install --locked), GNU gettext's tools (msgmerge, msgattrib), and the
# pinned mermaid.js npm package, which is copied next to book.toml so the
# built pages draw diagrams without fetching anything.
set -euo pipefail

MDBOOK_VERSION=0.4.52
I18N_VERSION=0.3.6
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
tools="$root/tools/mermaid-check"

if [ "$(mdbook --version 2>/dev/null)" != "mdbook v$MDBOOK_VERSION" ]; then
    echo "book: installing mdbook $MDBOOK_VERSION" >&2
    cargo install --locked mdbook --version "$MDBOOK_VERSION"
fi
if ! cargo install --list 2>/dev/null | grep -qx "mdbook-i18n-helpers v$I18N_VERSION:"; then
    echo "book: installing mdbook-i18n-helpers $I18N_VERSION" >&2
    cargo install --locked mdbook-i18n-helpers --version "$I18N_VERSION"
fi
if ! command -v msgmerge >/dev/null 2>&1; then
    echo "book: installing gettext (msgmerge, msgattrib)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gettext
fi
if [ ! -f "$tools/node_modules/mermaid/dist/mermaid.min.js" ]; then
    echo "book: installing the pinned npm packages" >&2
    (cd "$tools" && npm ci --no-audit --no-fund)
fi
cp "$tools/node_modules/mermaid/dist/mermaid.min.js" "$here/mermaid.min.js"

# The English text's messages, as mdbook-i18n-helpers extracts them.
pot="$(mktemp -d)"
trap 'rm -rf "$pot"' EXIT
MDBOOK_OUTPUT='{"xgettext": {"pot-file": "messages.pot", "granularity": 0}}' \
    mdbook build "$here" -d "$pot" >/dev/null 2>&1
# Every paragraph of the English text must have a current translation: a
# message missing from ko.po, or one whose English changed ("fuzzy" once
# merged), is listed and fails the check.
untranslated() {
    msgmerge --quiet --no-wrap "$here/po/ko.po" "$pot/messages.pot" -o "$pot/merged.po"
    : >"$pot/missing.po"
    : >"$pot/stale.po"
    msgattrib --no-wrap --untranslated --no-obsolete "$pot/merged.po" -o "$pot/missing.po"
    msgattrib --no-wrap --only-fuzzy --no-obsolete "$pot/merged.po" -o "$pot/stale.po"
    local missing stale
    missing=$(grep -c '^msgid ' "$pot/missing.po" 2>/dev/null || true)
    stale=$(grep -c '^msgid ' "$pot/stale.po" 2>/dev/null || true)
    # The header entry (msgid "") counts once in each file that exists.
    missing=$(( ${missing:-0} > 0 ? missing - 1 : 0 ))
    stale=$(( ${stale:-0} > 0 ? stale - 1 : 0 ))
    echo "$missing $stale"
}
if [ "${1:-}" = "--update-po" ]; then
    msgmerge --quiet --update --backup=none "$here/po/ko.po" "$pot/messages.pot"
    # Paragraphs the English text no longer has are dropped.
    msgattrib --no-obsolete -o "$here/po/ko.po" "$here/po/ko.po"
    read -r missing stale <<<"$(untranslated)"
    echo "book/po/ko.po: $missing paragraph(s) to translate, $stale to review (fuzzy)" >&2
    exit 0
fi
if [ "${1:-}" = "--check" ]; then
    (cd "$root" && cargo run --release --quiet -- book --check)
    read -r missing stale <<<"$(untranslated)"
    if [ "$missing" != 0 ] || [ "$stale" != 0 ]; then
        echo "book: the Korean edition is behind the English text: $missing paragraph(s) untranslated, $stale changed since translated" >&2
        sed -n '/^msgid/,/^$/p' "$pot/missing.po" "$pot/stale.po" | head -60 >&2
        echo "help: run book/build.sh --update-po, translate the entries it lists in book/po/ko.po (clear their fuzzy flag), and rebuild" >&2
        exit 1
    fi
fi
mdbook build "$here"
MDBOOK_BOOK__LANGUAGE=ko MDBOOK_BOOK__TITLE="simnet: TCP, HTTP, WebSocket을 눈으로 보기" \
    mdbook build "$here" -d "$here/book/ko"

# Every scenario the book is generated from (src/book.rs takes
# simnet::quick_scenario_files: every *.toml under scenarios/ but the load
# tests in scenarios/load/), as `simnet run --format html`: the pages the
# chapters' "Step through this run in your browser" links open. They are
# built with the book, not committed. A failed expectation fails the build.
# Both editions link to runs/ next to their own pages, so the Korean one
# gets the same files, hard-linked (copied where hard links cannot be).
(cd "$root" && cargo build --release --quiet --bin simnet)
simnet="${CARGO_TARGET_DIR:-$root/target}/release/simnet"
case "$simnet" in /*) ;; *) simnet="$root/$simnet" ;; esac
runs="$here/book/runs"
rm -rf "$runs" "$here/book/ko/runs"
while IFS= read -r file; do
    rel="${file#scenarios/}"
    page="$runs/${rel%.toml}.html"
    mkdir -p "$(dirname "$page")"
    if ! log=$(cd "$root" && "$simnet" run "$file" --format html --out "$page" 2>&1); then
        echo "$log" >&2
        echo "book: \`simnet run $file --format html\` failed (an expectation of a shipped scenario, or the run itself)" >&2
        exit 1
    fi
done < <(cd "$root" && find scenarios -name '*.toml' -not -path '*/load/*' | LC_ALL=C sort)
cp -al "$runs" "$here/book/ko/runs" 2>/dev/null || cp -R "$runs" "$here/book/ko/runs"

if [ "${1:-}" = "--check" ]; then
    mdbook test "$here"
    # Both editions: the Korean one is book/book/ko.
    CHROMIUM="${CHROMIUM:-/usr/bin/chromium}" node "$tools/check-book.mjs" "$here/book"
fi
