# Bash completion (config/fieldsync.bash-completion): command names, options
# and operands read from the tool's own help, document ids from the replica
# the command line names (--db, -c, else the tool's defaults); a command
# line that names no replica or no command completes to nothing, silently.
# Run in a plain bash, and again under the bash-completion package when it
# is installed.
# shellcheck shell=bash source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
: "${FSY_SOURCE_DIR:?}"
unset FIELDSYNC_CONFIG FIELDSYNC_DB # the replica is the one each line names
COMPLETION=$FSY_SOURCE_DIR/config/fieldsync.bash-completion
[ -f "$COMPLETION" ] || fail "no $COMPLETION"

if ! bash --norc --noprofile -c 'type complete compgen compopt mapfile &&
    ((BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] >= 402))' >/dev/null 2>&1; then
  echo "SKIP: this bash has no programmable completion, or is older than 4.2"
  exit 77
fi
command -v awk >/dev/null || { echo "SKIP: no awk"; exit 77; }

# `fieldsync` on PATH, as the user types it; every run of it logged.
mkdir "$T/bin"
cat >"$T/bin/fieldsync" <<EOF
#!/bin/sh
printf '%s\n' "\$*" >>"$T/calls"
exec "$FIELDSYNC" "\$@"
EOF
chmod +x "$T/bin/fieldsync"

# The driver: complete.sh LINE... prints the replies for each LINE (the
# cursor at its end), one a line, then "--". One shell for all the lines,
# as in a session. COMP_WORDS split as readline does: at blanks (but for
# one after a backslash), with runs of = and : as words of their own
# (COMP_WORDBREAKS).
cat >"$T/complete.sh" <<'EOF'
if [ -n "${FSY_BASH_COMPLETION:-}" ]; then
  . "$FSY_BASH_COMPLETION"
else
  set -u # the completion must not trip on an unset variable
fi
. "$COMPLETION"
spec=$(complete -p fieldsync) || { echo "no completion registered" >&2; exit 3; }
fn=${spec#*-F }
fn=${fn%% *}
COMP_WORDBREAKS=$' \t\n"\'><=;|&(:'
for COMP_LINE in "$@"; do
  COMP_POINT=${#COMP_LINE}
  COMP_WORDS=()
  w='' type=''
  for ((i = 0; i < ${#COMP_LINE}; i++)); do
    c=${COMP_LINE:i:1}
    case $c in
      ' ') type=space ;;
      [=:]) [[ $type == brk ]] || type=newbrk ;;
      *) [[ $type == word ]] || type=newword ;;
    esac
    if [[ $type == new* || $type == space ]] && [[ -n $w ]]; then
      COMP_WORDS+=("$w")
      w=''
    fi
    case $type in
      space) continue ;;
      newbrk) type=brk ;;
      newword) type=word ;;
    esac
    w+=$c
    if [[ $c == \\ ]]; then
      i=$((i + 1))
      w+=${COMP_LINE:i:1}
    fi
  done
  COMP_WORDS+=("$w") # the word at the cursor ('' after a blank)
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  "$fn" fieldsync "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
  if [[ ${#COMPREPLY[@]} -gt 0 ]]; then printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort; fi
  echo @@
done
EOF

# replies LINE...: the sorted replies for each LINE, each set ending "@@";
# anything on stderr fails the test.
replies() {
  PATH="$T/bin:$PATH" COMPLETION=$COMPLETION \
    bash --norc --noprofile "$T/complete.sh" "$@" 2>"$T/cerr" ||
    fail "completion failed: $(cat "$T/cerr")"
  [ ! -s "$T/cerr" ] || fail "completion wrote to stderr: $(cat "$T/cerr")"
}

# Expectations, checked together by `check` in one shell (a session):
#   completes LINE EXPECTED...  LINE completes to exactly EXPECTED (none: nothing)
#   offers LINE WORD...         LINE's completions include every WORD
#   lacks LINE WORD...          LINE's completions include no WORD
LINES=() KINDS=() WANTS=()
expect() {
  local kind=$1 line=$2
  shift 2
  LINES+=("$line")
  KINDS+=("$kind")
  WANTS+=("$(printf '%s\n' "$@" | LC_ALL=C sort | grep -v '^$' || :)")
}
completes() { expect exact "$@"; }
offers() { expect offers "$@"; }
lacks() { expect lacks "$@"; }
check() {
  local i=0 got='' l w
  replies "${LINES[@]}" >"$T/got"
  while IFS= read -r l; do
    if [ "$l" != @@ ]; then
      got+=$l$'\n'
      continue
    fi
    got=${got%$'\n'}
    case ${KINDS[i]} in
      exact) assert_eq "$got" "${WANTS[i]}" "completion of '${LINES[i]}'" ;;
      offers | lacks)
        while IFS= read -r w; do
          if grep -qxF -- "$w" <<<"$got"; then
            [ "${KINDS[i]}" = offers ] || fail "'${LINES[i]}' offers '$w'"
          else
            [ "${KINDS[i]}" = lacks ] || fail "'${LINES[i]}' does not offer '$w': ${got//$'\n'/ }"
          fi
        done <<<"${WANTS[i]}"
        ;;
    esac
    i=$((i + 1))
    got=''
  done <"$T/got"
  assert_eq "$i" "${#LINES[@]}" "lines completed"
  LINES=() KINDS=() WANTS=()
}

X=$T/gao.db
fs gao init --site gao >/dev/null
for d in isf-mli-2027 jmac-weekly-2026-48 risk-gao-q4; do
  fs gao put "$d" --kind plan --scope MLI --set title="$d" >/dev/null
done
fs gao put risk-gao-q4 --kind analysis --scope SSD --set title=also >/dev/null
fs gao put ssd-only --kind plan --scope SSD --set title="two
lines, \"quoted\"" >/dev/null
fs gao put 'jmac note 12' --kind plan --scope MLI --set title=spaces >/dev/null
fs gao put hq:brief-1 --kind plan --scope MLI --set title=colon >/dev/null
fs gao rm jmac-weekly-2026-48 >/dev/null
fs gao put jmac-weekly-2026-48 --kind plan --scope MLI --set title=back >/dev/null
printf '[site]\nid = gao\ndb = %s\n' "$X" >"$T/gao.conf"
mkdir "$T/files" "$T/files/sub"
touch "$T/files/body.md" "$T/files/bundle.fsb" "$T/files/annex.pdf"

run_all() {
  step "command names, from 'fieldsync help' ($1)"
  offers "fieldsync ge" get
  completes "fieldsync ge" get
  commands=$("$FIELDSYNC" help | awk '/^Commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }')
  [ "$(wc -l <<<"$commands")" -ge 20 ] || fail "few commands in 'fieldsync help': $commands"
  # shellcheck disable=SC2086 # one word a command
  completes "fieldsync " help $commands
  # shellcheck disable=SC2086
  completes "fieldsync --db $X " help $commands
  offers "fieldsync -c $T/gao.conf s" search status
  if grep -qx sync <<<"$commands"; then offers "fieldsync sy" sync; fi
  completes "fieldsync help ge" get
  completes "fieldsync frobnicate " # no such command: nothing

  check

  step "global options, from 'fieldsync --help' ($1)"
  offers "fieldsync --" --db --config --author --help --version
  completes "fieldsync --a" --author
  completes "fieldsync --author " # a name: nothing to offer
  offers "fieldsync --db $T/files/" "$T/files/body.md" "$T/files/sub"
  offers "fieldsync -c $T/files/b" "$T/files/body.md" "$T/files/bundle.fsb"

  check

  step "document ids from --db ($1)"
  completes "fieldsync --db $X get isf" isf-mli-2027
  completes "fieldsync --db $X get " isf-mli-2027 jmac-weekly-2026-48 risk-gao-q4 \
    ssd-only 'jmac\ note\ 12' hq:brief-1
  completes "fieldsync --db=$X log j" jmac-weekly-2026-48 'jmac\ note\ 12'
  completes "fieldsync --db $X get jmac\\ " 'jmac\ note\ 12'
  completes "fieldsync --db $X rm hq:" brief-1 # bash keeps what precedes the ':'
  completes "fieldsync --db $X get --scope SSD " risk-gao-q4 ssd-only
  completes "fieldsync --db $X diff --scope=SSD r" risk-gao-q4
  for c in put get rm log diff resolve fetch; do
    completes "fieldsync --db $X $c ri" risk-gao-q4
  done
  completes "fieldsync --db $X diff risk-gao-q4 " # FIELD: not a document
  completes "fieldsync --db $X search ri"         # QUERY: not a document
  completes "fieldsync --db $X list ri"

  check

  step "document ids from -c CONFIG's [site] db ($1)"
  completes "fieldsync -c $T/gao.conf get " isf-mli-2027 jmac-weekly-2026-48 risk-gao-q4 \
    ssd-only 'jmac\ note\ 12' hq:brief-1
  completes "fieldsync --config=$T/gao.conf get risk" risk-gao-q4
  completes "fieldsync -c$T/gao.conf --author someone get is" isf-mli-2027
  check
  if [ ! -e /etc/fieldsync/fieldsync.conf ]; then
    step "document ids from the tool's defaults: \$FIELDSYNC_DB ($1)"
    got=$(
      export FIELDSYNC_DB=$X
      replies "fieldsync get is"
    )
    assert_eq "$got" "isf-mli-2027
@@" "ids from \$FIELDSYNC_DB"
  fi

  step "no replica, no ids and no error ($1)"
  completes "fieldsync --db $T/missing.db get "
  completes "fieldsync -c $T/missing.conf get is"
  completes "fieldsync --db $T/files get is"
  check
  [ ! -e "$T/missing.db" ] || fail "completion created $T/missing.db"

  step "command options, from 'fieldsync COMMAND --help' ($1)"
  offers "fieldsync --db $X get --j" --json
  completes "fieldsync --db $X get --j" --json
  offers "fieldsync get isf-mli-2027 --" --scope --deleted --json --field --output --help
  offers "fieldsync put isf-mli-2027 --" --set --file --attach --kind --scope --urgent
  offers "fieldsync list --" --limit --json --csv --scope --since --where
  lacks "fieldsync log x --" --keep # named in log's text, not its option
  lacks "fieldsync vv --" --to-vv
  completes "fieldsync bundle " export import
  offers "fieldsync bundle export --" --to-vv --for --all --key --attachments --json
  lacks "fieldsync bundle export --" --trust --allow-unsigned
  offers "fieldsync bundle import x --" --trust --allow-unsigned --json
  completes "fieldsync bundle export --attachments " all none
  completes "fieldsync bundle export --attachments=n" none

  check

  step "file names where an option or operand is a file ($1)"
  completes "fieldsync --db $X get isf-mli-2027 --field body -o $T/files/a" "$T/files/annex.pdf"
  completes "fieldsync --db $X get isf-mli-2027 --output=$T/files/a" "$T/files/annex.pdf"
  completes "fieldsync --db $X put isf-mli-2027 --file body=$T/files/bo" "$T/files/body.md"
  completes "fieldsync --db $X put isf-mli-2027 --attach annex=$T/files/an" "$T/files/annex.pdf"
  completes "fieldsync --db $X resolve isf-mli-2027 body --file $T/files/bo" "$T/files/body.md"
  completes "fieldsync --db $X bundle import $T/files/bu" "$T/files/bundle.fsb"
  completes "fieldsync --db $X bundle import --trust $T/files/a" "$T/files/annex.pdf"
  completes "fieldsync --db $X bundle export --all -o $T/files/bu" "$T/files/bundle.fsb"
  completes "fieldsync --db $X import $T/files/b" "$T/files/body.md" "$T/files/bundle.fsb"
  completes "fieldsync vv -o $T/files/s" "$T/files/sub"
  completes "fieldsync keygen -o $T/files/s" "$T/files/sub"
  completes "fieldsync --db $X put isf-mli-2027 --kind " # a kind: nothing to offer

  check

  step "the help texts are read once a session ($1)"
  : >"$T/calls"
  replies "fieldsync --db $X get --j" "fieldsync --db $X get --s" "fieldsync --db $X log --" >/dev/null
  assert_eq "$(grep -c '^get --help$' "$T/calls")" 1 "runs of 'get --help'"
  assert_eq "$(grep -c '^help$' "$T/calls")" 1 "runs of 'help'"
  assert_eq "$(grep -c '^log --help$' "$T/calls")" 1 "runs of 'log --help'"
}

run_all "plain bash"

if command -v timeout >/dev/null; then
  step "a tool that hangs: the completion gives up, quietly"
  mkdir "$T/hang"
  printf '#!/bin/sh\nsleep 30\n' >"$T/hang/fieldsync"
  chmod +x "$T/hang/fieldsync"
  start=$(date +%s)
  got=$(PATH="$T/hang:$PATH" COMPLETION=$COMPLETION \
    bash --norc --noprofile "$T/complete.sh" "fieldsync ge" "fieldsync --db $X get i" 2>"$T/cerr")
  assert_eq "$got" "@@
@@" "completion by a tool that hangs"
  [ ! -s "$T/cerr" ] || fail "a hanging tool's completion wrote to stderr: $(cat "$T/cerr")"
  [ $(($(date +%s) - start)) -lt 15 ] || fail "the completion waited for a tool that hangs"
fi
for bc in /usr/share/bash-completion/bash_completion /etc/bash_completion; do
  if [ -f "$bc" ]; then
    export FSY_BASH_COMPLETION=$bc
    run_all "with $bc"
    break
  fi
done
echo "PASS completion"
