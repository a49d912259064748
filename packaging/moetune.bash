# SPDX-License-Identifier: Apache-2.0
# bash completion for moetune (installed to share/bash-completion/completions/moetune).
# Subcommands first, then the options of the subcommand taken from its own --help
# (so the list never drifts from the binary), files for positional arguments.
_moetune() {
  local cur prev words cword
  _init_completion 2>/dev/null || {
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    words=("${COMP_WORDS[@]}")
    cword=$COMP_CWORD
  }
  local sub="" i
  for ((i = 1; i < cword; i++)); do
    case ${words[i]} in
      -*) ;;
      *) sub=${words[i]}; break ;;
    esac
  done
  if [[ -z $sub ]]; then
    local subs
    subs=$("${words[0]}" --help 2>/dev/null | awk '/^(SUBCOMMANDS|Subcommands):/{on=1;next} on&&/^ +[a-z]/{print $1}')
    COMPREPLY=($(compgen -W "$subs --help --version" -- "$cur"))
    return
  fi
  case $prev in
    --format) COMPREPLY=($(compgen -W "json md html pdf png chrome" -- "$cur")); return ;;
    --target) COMPREPLY=($(compgen -W "generic samples megatron deepspeed vllm sglang as-is" -- "$cur")); return ;;
    --set)  # analysis thresholds as NAME= (the names from the binary: analyze --list-options)
      compopt -o nospace 2>/dev/null
      COMPREPLY=($(compgen -W "$("${words[0]}" analyze --list-options 2>/dev/null | awk '{print $1"="}')" -- "$cur"))
      return ;;
  esac
  if [[ $cur == -* ]]; then
    local opts
    opts=$("${words[0]}" "$sub" --help 2>/dev/null | grep -oE -- '--?[a-zA-Z][a-zA-Z0-9-]*' | sort -u)
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    return
  fi
  COMPREPLY=($(compgen -f -- "$cur"))
}
complete -o filenames -F _moetune moetune
