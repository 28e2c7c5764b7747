#!/usr/bin/env bash
# The man page and the Icinga 2 CheckCommand in step with the plugin's --help:
#  - packaging/man/check_smtp_verify.1 renders without a warning, lexgrog finds its NAME,
#    it has the sections we promise, its version is the plugin's, every option (short and
#    long) of --help and every perfdata label of --help is described, and every long option
#    it describes is one the plugin accepts;
#  - contrib/icinga2/check_smtp_verify.conf has a custom variable smtp_verify_<name> for
#    every long option of --help (except those that make no sense there), each of its
#    arguments is an option the plugin accepts, and each variable of the ITL's "smtp"
#    command (when Icinga 2 is installed) is the default of one of its variables.
# Needs man-db and groff-base (installed when missing and run as root); no network, ~2 s.
# Usage: bash tests/packaging/docs_test.sh PLUGIN
# shellcheck source-path=SCRIPTDIR
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=lib.sh
source "$(pwd)/tests/packaging/lib.sh"

plugin=${1:?usage: docs_test.sh PLUGIN}
man_page=packaging/man/check_smtp_verify.1
icinga_conf=contrib/icinga2/check_smtp_verify.conf
[[ -x $plugin ]] || abort "$plugin is not executable"
if ! command -v man >/dev/null || ! command -v lexgrog >/dev/null; then
  # A minimal Debian image has no man-db; as root, install it.
  [[ $(id -u) -eq 0 ]] && install_missing --no-start man-db man-db groff-base
  if ! command -v man >/dev/null || ! command -v lexgrog >/dev/null; then
    abort "man/lexgrog missing (apt-get install man-db groff-base)"
  fi
fi

# A newcomer reads the README to the end; the details live in docs/ and the man page.
readme_lines=$(wc -l <README.md)
expect "README.md has at most 250 lines ($readme_lines)" test "$readme_lines" -le 250
for doc in docs/GUIDE.md docs/OUTPUT.md docs/ARCHITECTURE.md tests/README.md tests/bench/README.md; do
  expect "README.md links $doc" grep -q "]($doc" README.md
done

help=$("$plugin" --help)
help_rc=$?
expect_eq "--help exits 3" "$help_rc" 3

# ---------------------------------------------------------------- man page

warnings=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l "$man_page" 2>&1 >/dev/null)
expect_eq "man renders $man_page without warnings" "$warnings" ""
rendered=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man -E UTF-8 -l "$man_page" 2>/dev/null)
widest=$(LC_ALL=C.UTF-8 wc -L <<<"$rendered")
expect "no rendered line wider than 80 columns (widest: $widest)" test "$widest" -le 80
expect "lexgrog finds the NAME line" bash -c "lexgrog '$man_page' | grep -q 'check_smtp_verify - '"

for section in NAME SYNOPSIS DESCRIPTION OPTIONS STATES OUTPUT 'EXIT STATUS' ENVIRONMENT \
  EXAMPLES 'SEE ALSO'; do
  expect "section $section" grep -qE "^\.SH \"?$section\"?\$" "$man_page"
done
expect "ENVIRONMENT describes SMTP_AUTHPASS" \
  bash -c "sed -n '/^\\.SH ENVIRONMENT/,/^\\.SH /p' '$man_page' | grep -q '^\\.B SMTP_AUTHPASS'"

version=$("$plugin" -V)
version=${version##* }
expect "the .TH line names version $version" grep -qE "^\.TH .*\"check_smtp_verify $version\"" "$man_page"

# roff spells "-" as "\-" in option names.
roff() { printf '%s' "${1//-/\\-}"; }

mapfile -t help_long < <(grep -oE -- '--[a-z][a-z0-9-]+' <<<"$help" | sort -u)
mapfile -t help_short < <(grep -oE -- '^  -[A-Za-z0-9]([, ]|$)' <<<"$help" | grep -oE -- '-[A-Za-z0-9]' | sort -u)
# "-4, -6" lists two short options on one line.
help_short+=(-6)
missing=()
for opt in "${help_long[@]}" "${help_short[@]}"; do
  grep -qF -- "$(roff "$opt")" "$man_page" || missing+=("$opt")
done
expect_eq "every option of --help (${#help_long[@]} long, ${#help_short[@]} short) is in the man page" \
  "${missing[*]}" ""

perfdata=$(sed -n '/^Perfdata:/,/^$/p' <<<"$help" | tr -s ' \n' ' ')
mapfile -t labels < <(grep -oE '\b(time|mx|mta_sts|resolve|connect|tls|banner|ehlo|plaintext|starttls|auth|mail|rcpt|data|commands|quit|helo_dns|cert_days)\b' <<<"$perfdata" | sort -u)
missing=()
for label in "${labels[@]}"; do
  sed -n '/^\.SS "Performance data"/,/^\.SH /p' "$man_page" | grep -qE "^\.B[IR]? $label\b" ||
    missing+=("$label")
done
expect_eq "every perfdata label of --help (${#labels[@]}) is in the man page's Performance data" \
  "${missing[*]}" ""

# The phases -w/-c accept (from the registry, lib/smtp/phase.h): the same list, in the same
# order, in --help ("Phases: a, b, c.") and in the man page (".BR a ," lines after "Phases:").
help_phases=$(tr -s ' \n' ' ' <<<"$help" | grep -oE 'Phases: [a-z_, ]+\.' | head -n1 |
  sed -E 's/^Phases: //; s/\.$//; s/, / /g')
man_phases=$(sed -n '/^Phases:$/,/^\.BR [a-z_]* \.$/p' "$man_page" | sed -n 's/^\.BR \([a-z_]*\) [,.]$/\1/p' |
  tr '\n' ' ' | sed 's/ $//')
expect "--help lists the phases" test -n "$help_phases"
expect_eq "the man page lists the phases of --help, in order" "$man_phases" "$help_phases"

# The other way round: the man page must not describe an option the plugin does not know.
mapfile -t man_long < <(grep -oE -- '\\-\\-[a-z]([a-z0-9]|\\-)*' "$man_page" | sed 's/\\-/-/g' | sort -u)
unknown=()
for opt in "${man_long[@]}"; do
  out=$("$plugin" "$opt" 2>&1)
  [[ $out == *"unknown option"* ]] && unknown+=("$opt")
done
expect_eq "every long option in the man page (${#man_long[@]}) is known to the plugin" \
  "${unknown[*]}" ""

# ---------------------------------------------------------------- Icinga 2 CheckCommand

# Not offered on purpose: --help/--version (no check), --authpass (visible in ps and the API;
# use smtp_verify_authpass_file or env SMTP_AUTHPASS), --output (Icinga needs the status
# line); --hostname is smtp_verify_address (like the ITL), --tls and --use-ipv4/6 are
# aliases of --ssl, -4 and -6.
declare -A not_in_icinga=([--help]=1 [--version]=1 [--authpass]=1 [--output]=1
  [--hostname]=1 [--tls]=1 [--use-ipv4]=1 [--use-ipv6]=1)
missing=()
for opt in "${help_long[@]}"; do
  [[ -n ${not_in_icinga[$opt]:-} ]] && continue
  var=smtp_verify_${opt#--}
  var=${var//-/_}
  grep -qE "^[[:space:]]+\"$opt\" = \\{" "$icinga_conf" &&
    grep -qF "\"\$$var\$\"" "$icinga_conf" || missing+=("$opt→$var")
done
expect_eq "every long option of --help has its argument and custom variable in the CheckCommand" \
  "${missing[*]}" ""
for var in smtp_verify_address smtp_verify_ipv4 smtp_verify_ipv6; do
  expect "the CheckCommand has $var" grep -qF "\$$var\$" "$icinga_conf"
done
expect "smtp_verify_address defaults to the ITL's smtp_address, that to \$check_address\$" \
  bash -c "grep -qE '^[[:space:]]*vars\.smtp_verify_address = \"\\\$smtp_address\\\$\"' '$icinga_conf' &&
    grep -qE '^[[:space:]]*vars\.smtp_address = \"\\\$check_address\\\$\"' '$icinga_conf'"

# Moving from the ITL's "smtp" command changes only check_command: each variable of that
# command is the default of one of ours (vars.smtp_verify_X = "$smtp_Y$"), except
# smtp_address (-H, above). Read from the ITL itself when Icinga 2 is installed.
itl=/usr/share/icinga2/include/command-plugins.conf
if [[ -r $itl ]]; then
  # shellcheck disable=SC2016 # $smtp_x$ are Icinga macros, not shell
  mapfile -t itl_vars < <(awk '/^object CheckCommand "smtp" \{/,/^\}/' "$itl" |
    grep -oE '\$smtp_[a-z0-9_]+\$' | tr -d '$' | sort -u)
  missing=()
  for var in "${itl_vars[@]}"; do
    [[ $var == smtp_address ]] && continue
    grep -qE "^[[:space:]]*vars\.smtp_verify_[a-z0-9_]+ = \"\\\$$var\\\$\"" "$icinga_conf" ||
      missing+=("$var")
  done
  expect "the ITL's smtp command has variables (${#itl_vars[@]})" test "${#itl_vars[@]}" -ge 15
  expect_eq "every variable of the ITL's smtp command is a default of the CheckCommand" \
    "${missing[*]}" ""
else
  echo "skip the ITL's smtp variables: $itl missing (icinga2-common)"
fi
expect "the CheckCommand imports ipv4-or-ipv6" grep -qE '^[[:space:]]*import "ipv4-or-ipv6"' "$icinga_conf"
expect "the CheckCommand does not offer -P/--authpass" \
  bash -c "! grep -qE '\"(-P|--authpass)\" = ' '$icinga_conf'"

mapfile -t icinga_keys < <(grep -oE '^[[:space:]]+"-[^"]+" = \{' "$icinga_conf" | grep -oE -- '-[^"]+')
unknown=()
for key in "${icinga_keys[@]}"; do
  out=$("$plugin" "$key" 2>&1)
  [[ $out == *"unknown option"* ]] && unknown+=("$key")
done
expect_eq "every argument of the CheckCommand (${#icinga_keys[@]}) is known to the plugin" \
  "${unknown[*]}" ""

finish
