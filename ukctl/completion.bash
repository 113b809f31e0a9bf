# bash completion for ukctl.  Load it with:
#   source /path/to/ukctl-completion.bash
# (or copy it to /usr/share/bash-completion/completions/ukctl).
# Instance and image names come from the running daemon (ukctl __complete).

_ukctl_words() {
	# -H/--host and --token-file given earlier on the line apply to the lookup too.
	local host=() i
	for ((i = 1; i < COMP_CWORD; i++)); do
		case "${COMP_WORDS[i]}" in
		-H | --host) host+=(-H "${COMP_WORDS[i + 1]}") ;;
		--token-file) host+=(--token-file "${COMP_WORDS[i + 1]}") ;;
		esac
	done
	"${COMP_WORDS[0]}" "${host[@]}" __complete "$1" 2>/dev/null
}

_ukctl() {
	local cur prev cmd i opts
	cur="${COMP_WORDS[COMP_CWORD]}"
	prev="${COMP_WORDS[COMP_CWORD - 1]}"

	# The command is the first word that is not a global option or its value.
	for ((i = 1; i < COMP_CWORD; i++)); do
		case "${COMP_WORDS[i]}" in
		-H | --host | --token-file) ((i++)) ;;
		-*) ;;
		*) cmd="${COMP_WORDS[i]}"; break ;;
		esac
	done

	if [[ -z "$cmd" ]]; then
		case "$prev" in
		-H | --host) COMPREPLY=($(compgen -W "unix:///run/ukd/ukd.sock tcp://" -- "$cur")); return ;;
		--token-file) COMPREPLY=($(compgen -f -- "$cur")); return ;;
		esac
		if [[ "$cur" == -* ]]; then
			COMPREPLY=($(compgen -W "-H --host --token-file -h --help --version" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(_ukctl_words commands)" -- "$cur"))
		fi
		return
	fi

	case "$cmd" in
	build) opts="-t --tag --elf -m --memory -e --env -q --quiet --json -h --help" ;;
	images) opts="-q --quiet --json -h --help" ;;
	rmi) opts="-f --force -h --help" ;;
	image) opts="inspect ls rm --json -h --help" ;;
	run) opts="-d --detach --name -m --memory --cpus -e --env -p --publish --net -v --volume --restart --health-interval --rm --json -h --help" ;;
	list | ps) opts="-a --all -q --quiet --json -f --filter -h --help" ;;
	start | kill) opts="-h --help" ;;
	stop | restart) opts="-t --time -h --help" ;;
	rm) opts="-f --force -h --help" ;;
	logs) opts="-f --follow -n --tail --since -h --help" ;;
	inspect) opts="--json -h --help" ;;
	health | info | version) opts="--json -h --help" ;;
	stats) opts="--no-stream --json -h --help" ;;
	events) opts="-f --follow --since --json -h --help" ;;
	network) opts="create ls rm inspect --subnet --gateway --bridge -q --quiet --json -h --help" ;;
	esac

	case "$prev" in
	--elf) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--restart) COMPREPLY=($(compgen -W "no on-failure on-failure: always unless-stopped" -- "$cur")); return ;;
	-f | --filter)
		if [[ "$cmd" == list || "$cmd" == ps ]]; then
			COMPREPLY=($(compgen -W "state=created state=starting state=running state=stopping state=exited state=crash-loop name=" -- "$cur"))
			return
		fi ;;
	-t | --tag | --name | -m | --memory | -e | --env | --tail | -n | --time | --cpus | -p | --publish | --net | -v | --volume | --health-interval | --since)
		return ;;
	esac

	if [[ "$cur" == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		return
	fi
	case "$cmd" in
	build) COMPREPLY=($(compgen -d -- "$cur")) ;;
	rmi) COMPREPLY=($(compgen -W "$(_ukctl_words images)" -- "$cur")) ;;
	image)
		if [[ "$prev" == image ]]; then
			COMPREPLY=($(compgen -W "inspect ls rm" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(_ukctl_words images)" -- "$cur"))
		fi ;;
	run)
		# Only the image is ours to complete; what follows belongs to the program.
		COMPREPLY=($(compgen -W "$(_ukctl_words images)" -- "$cur")) ;;
	start | stop | restart | kill | rm | logs | inspect | health | stats | events)
		COMPREPLY=($(compgen -W "$(_ukctl_words instances)" -- "$cur")) ;;
	esac
}

complete -F _ukctl ukctl
