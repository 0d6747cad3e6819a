#!/usr/bin/env bash
# Man pages from the same text as --help (help2man): salvus(1) and one per
# subcommand, salvus-SUB(1), written gzipped (as Debian installs them) to $2
# for the binary $1.
set -euo pipefail
bin=$1
out=$2
mkdir -p "$out"
web_default=$("$bin" up --help | sed -n 's/.*--web TEXT=\([^ ]*\).*/\1/p')
page() {  # page NAME "HELP OPTION" "WHAT IT IS"
  local name=$1 opt=$2 what=$3 upper
  upper=$(tr '[:lower:]' '[:upper:]' <<<"$name")
  help2man -N --no-discard-stderr --help-option="$opt" --version-option=--version \
    --name="$what" "$bin" |
    sed -e "s/^\.TH SALVUS /.TH $upper /" -e "/^\.SH NAME/{n;s/^salvus /$name /}" \
      -e "s|$web_default|/usr/share/salvus/web|g" | gzip -9n >"$out/$name.1.gz"
}
page salvus --help "Sage in the browser, computed on a cluster"
for sub in up hub compute exec monitor status doctor vault admin; do
  what=$("$bin" "$sub" --help | sed -n 1p)  # reads it all: no SIGPIPE under pipefail
  page "salvus-$sub" "$sub --help" "$what"
done
