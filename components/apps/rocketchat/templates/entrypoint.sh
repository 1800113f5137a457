#!/bin/sh
# The Rocket.Chat container's entrypoint (rendered by components/apps/rocketchat/spec.py).
#
# Rocket.Chat reads its database URL and the first administrator's password from its environment
# only (MONGO_URL: Meteor's MongoDB driver; ADMIN_PASS: apps/meteor/server/startup/initialData.ts,
# insertAdminUserFromEnv), and neither has a *_FILE variant. This script reads both from their
# secret files, so they reach the Node process without being in the container's configuration
# (docker inspect) or in any program's argv, and then hands over to the image's own entrypoint
# (node's docker-entrypoint.sh) with the image's command (node main.js) as its arguments.
set -eu

mongo_user={{ mongo_user | sh }}
mongo_host={{ mongo_host | sh }}
mongo_port={{ mongo_port | sh }}
mongo_database={{ mongo_database | sh }}
mongo_options={{ mongo_options | sh }}
mongo_password_file={{ mongo_password_file | sh }}
admin_password_file={{ admin_password_file | sh }}

# The value of a one-line secret file on stdout, without its line end. read and printf are shell
# builtins: the value is never an argument of a program. An empty or missing file is an error.
read_secret() {
	if [ ! -r "$1" ]; then
		echo "rocketchat entrypoint: cannot read $1" >&2
		return 1
	fi
	value=
	IFS= read -r value <"$1" || :
	if [ -z "$value" ]; then
		echo "rocketchat entrypoint: $1 is empty" >&2
		return 1
	fi
	printf '%s' "$value"
}

# RFC 3986 percent-encoding of everything but unreserved characters, byte by byte, for a user
# name or password inside a URL. The generated passwords are letters and digits, which stay as
# they are; anything else would otherwise end the user-info part of the URL early.
percent_encode() {
	rest=$1
	encoded=
	while [ -n "$rest" ]; do
		tail=${rest#?}
		char=${rest%"$tail"}
		rest=$tail
		case $char in
		[A-Za-z0-9._~-]) encoded=$encoded$char ;;
		*) encoded=$encoded$(printf '%%%02X' "'$char") ;;
		esac
	done
	printf '%s' "$encoded"
}

LC_ALL=C
mongo_password=$(read_secret "$mongo_password_file")
MONGO_URL="mongodb://$(percent_encode "$mongo_user"):$(percent_encode "$mongo_password")@$mongo_host:$mongo_port/$mongo_database?$mongo_options"
ADMIN_PASS=$(read_secret "$admin_password_file")
unset mongo_password LC_ALL
export MONGO_URL ADMIN_PASS

exec docker-entrypoint.sh "$@"
