#!/usr/bin/env bash
# The layers, checked: lib/ <- daemon/, lib/ <- cli/ (README, "Layout").
#   1. no file of lib/ includes a header of daemon/ or cli/, and no file of
#      cli/ includes a header of daemon/;
#   2. the fieldsync binary defines no symbol of the daemon's own modules;
#   3. no two source files include each other's headers, and no two object
#      files of the library or the daemon use each other's symbols (files
#      that need each other are one module, or a layer is missing).
# Usage: layering.sh  (FSY_SOURCE_DIR, FIELDSYNC, FSY_LIB_A, FSY_DAEMON_A,
#                      FIELDSYNCD_MAIN_O from ctest)
set -euo pipefail
src=${FSY_SOURCE_DIR:?} fail=0
bad() { echo "FAIL: $*"; fail=1; }

# --- 1. includes point down ----------------------------------------------
hdrs() { (cd "$src/$1" && ls -- *.h 2>/dev/null) || true; }
includes() { sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$1"; }
check_dir() { # files of $1 must not include headers that live only in $2
  local dir=$1 other=$2 f h
  for f in "$src/$dir"/*.[ch]; do
    for h in $(includes "$f"); do
      if [ -e "$src/$other/$h" ] && [ ! -e "$src/$dir/$h" ]; then
        bad "$dir/$(basename "$f") includes $other/$h"
      fi
    done
  done
}
check_dir lib daemon
check_dir lib cli
check_dir cli daemon
check_dir include/fieldsync daemon
check_dir include/fieldsync cli
for f in "$src"/include/fieldsync/*.h; do
  for h in $(includes "$f"); do
    case $h in fieldsync/*) ;; *) bad "public header $(basename "$f") includes \"$h\"" ;; esac
  done
done

# --- 2. the tool holds nothing of the daemon --------------------------------
defined() { nm -g --defined-only "$@" 2>/dev/null | awk 'NF == 3 && $2 ~ /[TDBRC]/ {print $3}' | sort -u; }
daemon_syms=$(defined "${FSY_DAEMON_A:?}" "${FIELDSYNCD_MAIN_O:?}" | grep -v '^main$' || true)
[ -n "$daemon_syms" ] || bad "no symbols read from the daemon's objects"
tool_syms=$(defined "${FIELDSYNC:?}")
[ -n "$tool_syms" ] || bad "no symbols read from the fieldsync binary"
leaked=$(comm -12 <(echo "$daemon_syms") <(echo "$tool_syms") || true)
[ -z "$leaked" ] || bad "the fieldsync binary holds daemon-only symbols: $(echo $leaked)"

# --- 3. no two files need each other ----------------------------------------
# Every project header a source file includes, directly or through other
# headers: two files that include each other's headers only indirectly
# still need each other.
resolve() { # $1 = including file, $2 = include text -> header path or ""
  local dir=${1%/*} h=$2
  case $h in
    fieldsync/*) [ -e "$src/include/$h" ] && echo "$src/include/$h" ;;
    *) if [ -e "$dir/$h" ]; then echo "$dir/$h"; elif [ -e "$src/lib/$h" ]; then echo "$src/lib/$h"; fi ;;
  esac
}
declare -A deps # file -> the project headers it includes directly
direct() {
  local f=$1 h p out=""
  if [ -z "${deps[$f]+x}" ]; then
    for h in $(includes "$f"); do
      p=$(resolve "$f" "$h")
      [ -z "$p" ] || out+="$p "
    done
    deps[$f]=$out
  fi
}
closure() { # $1 = file -> every project header it reaches, in $reach
  local -A seen=()
  local todo=("$1") f p
  while [ ${#todo[@]} -gt 0 ]; do
    f=${todo[0]} todo=("${todo[@]:1}")
    direct "$f"
    for p in ${deps[$f]}; do
      [ -z "${seen[$p]:-}" ] || continue
      seen[$p]=1 todo+=("$p")
    done
  done
  reach="${!seen[*]}"
}
module_of_header() { # header path -> $mod, layer/stem of its source file
  local p=$1 stem dir
  stem=${p##*/} stem=${stem%.h} dir=${p%/*} dir=${dir##*/}
  case $p in
    "$src"/include/fieldsync/*) mod="lib/$stem" ;;
    *) mod="$dir/$stem" ;;
  esac
}
declare -A inc
for f in "$src"/lib/*.c "$src"/daemon/*.c "$src"/cli/*.c; do
  mods=" "
  closure "$f"
  for p in $reach; do module_of_header "$p"; mods+="$mod "; done
  inc[$(basename "$(dirname "$f")")/$(basename "$f" .c)]=$mods
done
for a in "${!inc[@]}"; do
  for b in "${!inc[@]}"; do
    [[ "$a" < "$b" ]] || continue
    if [[ "${inc[$a]}" == *" $b "* && "${inc[$b]}" == *" $a "* ]]; then
      bad "$a.c and $b.c include each other's headers"
    fi
  done
done
# symbols: object -> objects whose definitions it uses
pairs=$(
  { nm -A "${FSY_LIB_A:?}" 2>/dev/null | sed 's|^|lib/|'
    nm -A "$FSY_DAEMON_A" 2>/dev/null | sed 's|^|daemon/|'; } |
    awk '{ n = split($1, p, ":"); o = p[2]; sub(/\.c\.o$/, "", o)
           o = substr(p[1], 1, index(p[1], "/")) o    # layer/module
           if ($2 == "U") use[o, $3] = 1
           else if ($3 != "" && $2 ~ /[TDBRC]/) def[$3] = o }
         END { for (k in use) { split(k, q, SUBSEP); d = def[q[2]]
                 if (d != "" && d != q[1]) print q[1], d } }' | sort -u)
while read -r a b; do
  [ -n "$a" ] || continue
  if grep -qx "$b $a" <<<"$pairs" && [[ "$a" < "$b" ]]; then
    bad "$a.c and $b.c use each other's functions"
  fi
done <<<"$pairs"
[ -n "$pairs" ] || bad "no dependencies read from the libraries"

[ $fail -eq 0 ] && echo "layering: ok ($(wc -l <<<"$pairs") dependencies between modules, all one way)"
exit $fail
