# postfix.sh: a loopback-only Postfix test server (../shared/POSTFIX.md), sourced by
# tests/record/record-samples.sh and tests/live/live-tests.sh. Test domain smtptrace.test,
# users alice, bob and carol, everything delivered to discard:, a listener on port 2525 only,
# a self-signed certificate for STARTTLS. The caller saves /etc/postfix/main.cf and
# master.cf into $work first and puts them back afterwards; die() is the caller's.
PORT=2525
LSN=$PORT/inet                       # the test listener's name in master.cf
PFDIR=/etc/postfix
LOCK=/run/lock/smtptrace-postfix.lock

pf_reload() {
	postfix reload 2>/dev/null
	# Idle smtpd processes of the old configuration exit on reload; give them the moment.
	sleep 1
	wait_listener
}

wait_listener() {
	local _
	for _ in $(seq 100); do
		ss -Hltn "sport = :$PORT" | grep -q . && return 0
		sleep 0.1
	done
	die "Postfix does not listen on port $PORT"
}

pf_configure() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=mx.smtptrace.test" \
		-keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
	postconf -e \
		"inet_interfaces = loopback-only" \
		"inet_protocols = all" \
		"myhostname = mx.smtptrace.test" \
		"mydomain = smtptrace.test" \
		"myorigin = smtptrace.test" \
		"mydestination = smtptrace.test, localhost" \
		"mynetworks = 127.0.0.0/8 [::1]/128" \
		"local_recipient_maps = inline:{alice=ok, bob=ok, carol=ok}" \
		"transport_maps = inline:{smtptrace.test=discard:, localhost=discard:}" \
		"alias_maps =" \
		"alias_database =" \
		"smtpd_banner = \$myhostname ESMTP \$mail_name" \
		"maillog_file = /var/log/postfix.log" \
		"smtpd_tls_cert_file = $work/cert.pem" \
		"smtpd_tls_key_file = $work/key.pem" \
		"smtpd_tls_security_level = may" \
		"smtpd_sasl_auth_enable = no"
	postconf -F '*/*/chroot = n'
	postconf -MX smtp/inet                 # do not listen on port 25
	postconf -M "$LSN=$PORT inet n - n - - smtpd"
	postconf -M "postlog/unix-dgram=postlog unix-dgram n - n - 1 postlogd"
	postfix check
}

