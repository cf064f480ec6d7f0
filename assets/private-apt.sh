# private-apt.sh: sourced by the scripts that fetch Debian packages into the
# build tree (assets/fetch-debs.sh, integration/nixsuite/fetch-src.sh) so
# that they pick the mirror and confine apt the same way.

# debian_mirror prints the Debian mirror the host's apt already uses: it is
# the one known to be reachable here, so take its URI rather than assuming
# deb.debian.org is.
debian_mirror() {
	local m=""
	if [ -r /etc/apt/sources.list.d/debian.sources ]; then
		m=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }' \
			/etc/apt/sources.list.d/debian.sources)
	fi
	if [ -z "$m" ] && [ -r /etc/apt/sources.list ]; then
		m=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\/.*\/debian\/?$/) { print $i; exit } }' \
			/etc/apt/sources.list)
	fi
	m=${m:-http://deb.debian.org/debian}
	echo "${m%/}"
}

# private_apt_options DIR sets the array O to apt options that keep apt in
# DIR: the host's apt.conf.d is kept on purpose (it may carry proxy
# settings), but its sources, pins, lists, cache and package state are all
# replaced, so nothing of the host leaks into the resolution or gets
# modified. DIR/sources.list is the caller's to write.
private_apt_options() {
	local a=$1
	mkdir -p "$a/lists/partial" "$a/cache/archives/partial" "$a/prefs.d"
	: >"$a/preferences"
	: >"$a/status"
	O=(
		-o "Dir::Etc::SourceList=$a/sources.list"
		-o "Dir::Etc::SourceParts=/dev/null"
		-o "Dir::Etc::Preferences=$a/preferences"
		-o "Dir::Etc::PreferencesParts=$a/prefs.d"
		-o "Dir::State::Lists=$a/lists"
		-o "Dir::State::Status=$a/status"
		-o "Dir::Cache=$a/cache"
	)
	# Downloads into a root-owned build tree cannot use apt's _apt sandbox
	# user; saying so up front avoids apt's warning and a failed chown.
	if [ "$(id -u)" -eq 0 ]; then
		O+=(-o "APT::Sandbox::User=root")
	fi
}
