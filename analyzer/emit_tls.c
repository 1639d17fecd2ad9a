/* emit_tls: the session record's tls object, from what the TLS stage read in the clear
 * (docs/record.md). Part of the record builder, the only user of jansson. */
#include <stdio.h>

#include "emit_int.h"
#include "tls.h"

static json_t *alpn_list(const struct tls_info *i)
{
	json_t *a = json_array();
	int rc = 0;

	for (uint32_t k = 0; k < i->n_alpn; k++)
		rc |= json_array_append_new(a, json_string(i->alpn[k]));
	return done(a, rc);
}

static json_t *cert_json(const struct tls_cert *c)
{
	json_t *o = json_object();
	int rc = set_str(o, "subject", c->subject);

	rc |= set_str(o, "issuer", c->issuer);
	rc |= set_str(o, "not_before", c->not_before);
	rc |= set_str(o, "not_after", c->not_after);
	rc |= set_str(o, "sha256", c->sha256);
	return done(o, rc);
}

static json_t *alert_json(const struct tls_info *i)
{
	char num[8];
	const char *name = tls_alert_name(i->alert_desc);
	json_t *o = json_object();
	int rc;

	if (!name) {
		snprintf(num, sizeof(num), "%u", i->alert_desc);
		name = num;
	}
	rc = set_str(o, "level",
	             i->alert_level == 1   ? "warning"
	             : i->alert_level == 2 ? "fatal"
	                                   : "unknown");
	rc |= set_str(o, "description", name);
	return done(o, rc);
}

static int set_hello(json_t *o, const struct tls_info *i)
{
	char vbuf[24], cbuf[8];
	const char *cipher = tls_cipher_name(i->cipher);
	int rc = set_str(o, "version", tls_version_name(i->version, vbuf, sizeof(vbuf)));

	if (!cipher) {
		snprintf(cbuf, sizeof(cbuf), "0x%04x", i->cipher);
		cipher = cbuf;
	}
	return rc | set_str(o, "cipher_suite", cipher);
}

json_t *tls_json(const struct tls_state *t)
{
	const struct tls_info *i = tls_get_info(t);
	json_t *o = json_object();
	int rc = set_str(o, "handshake", tls_handshake_name(tls_handshake_state(i)));

	if (i->server_hello)
		rc |= set_hello(o, i);
	if (i->sni[0])
		rc |= set_str(o, "sni", i->sni);
	if (i->n_alpn)
		rc |= json_object_set_new(o, "alpn", alpn_list(i));
	if (i->ja4[0])
		rc |= set_str(o, "ja4", i->ja4);
	if (i->cert.seen)
		rc |= json_object_set_new(o, "certificate", cert_json(&i->cert));
	if (i->alert_seen)
		rc |= json_object_set_new(o, "alert", alert_json(i));
	return done(o, rc);
}
