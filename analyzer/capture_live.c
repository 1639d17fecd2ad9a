/* capture_live: live interfaces through libpcap (pcap_create, pcap_activate; pcap(3PCAP)),
 * non-blocking so that time moves without packets, with the kernel's counters and
 * tcpdump's -D list. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "capture_int.h"

void capture_live_options_default(struct capture_live_options *o)
{
	memset(o, 0, sizeof(*o));
	o->snaplen = 262144;
	o->promisc = true;
	o->timeout_ms = 100;
}

/* The names of the devices, comma-separated, for "no such device". */
static void device_names(char *out, size_t len)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_if_t *all = NULL;
	size_t used = 0;

	out[0] = '\0';
	if (pcap_findalldevs(&all, errbuf) != 0)
		return;
	for (pcap_if_t *d = all; d && used + 1 < len; d = d->next) {
		int n = snprintf(out + used, len - used, "%s%s", used ? ", " : "", d->name);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
	pcap_freealldevs(all);
}

/* Turns pcap_activate()'s failure into one line a user can act on. */
static void explain_activate(struct capture *cap, int rc, char *err, size_t errlen)
{
	char names[256];

	switch (rc) {
	case PCAP_ERROR_NO_SUCH_DEVICE:
		device_names(names, sizeof(names));
		capture_set_err(err, errlen, "%s: no such device (devices: %s)", cap->name,
		                names[0] ? names : "none found");
		break;
	case PCAP_ERROR_PERM_DENIED:
	case PCAP_ERROR_PROMISC_PERM_DENIED:
		capture_set_err(err, errlen,
		                "%s: permission denied: capturing needs root, or the CAP_NET_RAW "
		                "and CAP_NET_ADMIN capabilities",
		                cap->name);
		break;
	case PCAP_ERROR_IFACE_NOT_UP:
		capture_set_err(err, errlen, "%s: the interface is not up", cap->name);
		break;
	default:
		capture_set_err(err, errlen, "%s: cannot capture: %s", cap->name,
		                pcap_geterr(cap->pcap));
		break;
	}
}

static bool configure(struct capture *cap, const struct capture_live_options *o)
{
	pcap_t *p = cap->pcap;
	bool ok = pcap_set_snaplen(p, o->snaplen) == 0 && pcap_set_promisc(p, o->promisc) == 0 &&
	          pcap_set_timeout(p, o->timeout_ms) == 0 &&
	          pcap_set_immediate_mode(p, o->immediate) == 0 &&
	          pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_MICRO) == 0;
	if (ok && o->buffer_kib > 0)
		ok = pcap_set_buffer_size(p, o->buffer_kib * 1024) == 0;
	return ok;
}

/* After activation: non-blocking, with a descriptor to wait on. */
static bool make_pollable(struct capture *cap, char *err, size_t errlen)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	cap->live_fd = pcap_get_selectable_fd(cap->pcap);
	if (cap->live_fd < 0 || pcap_setnonblock(cap->pcap, 1, errbuf) != 0) {
		capture_set_err(err, errlen, "%s: cannot wait for packets without blocking",
		                cap->name);
		return false;
	}
	return true;
}

struct capture *capture_open_live(const char *dev, const struct capture_live_options *o,
                                  const char *bpf, char *err, size_t errlen)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	struct capture *cap = calloc(1, sizeof(*cap));

	capture_set_err(err, errlen, "%s", "");
	if (!cap || !(cap->name = strdup(dev))) {
		capture_set_err(err, errlen, "%s: %s", dev, strerror(ENOMEM));
		free(cap);
		return NULL;
	}
	cap->kind = CAPTURE_KIND_LIVE;
	cap->label = cap->name;
	cap->live_fd = -1;
	cap->pcap = pcap_create(dev, errbuf);
	if (!cap->pcap) {
		capture_set_err(err, errlen, "%s: %s", dev, errbuf);
		capture_close(cap);
		return NULL;
	}
	if (!configure(cap, o)) {
		capture_set_err(err, errlen, "%s: bad capture settings: %s", dev,
		                pcap_geterr(cap->pcap));
		capture_close(cap);
		return NULL;
	}
	int rc = pcap_activate(cap->pcap);
	if (rc < 0) {
		explain_activate(cap, rc, err, errlen);
		capture_close(cap);
		return NULL;
	}
	if (!capture_check_datalink(cap, err, errlen) ||
	    !capture_apply_filter(cap, bpf, err, errlen) || !make_pollable(cap, err, errlen)) {
		capture_close(cap);
		return NULL;
	}
	return cap;
}

enum capture_rc capture_live_wait(struct capture *cap)
{
	struct pollfd pfd = {.fd = cap->live_fd, .events = POLLIN};
	if (poll(&pfd, 1, 100) < 0 && errno != EINTR) {
		snprintf(cap->err, sizeof(cap->err), "%s: %s", cap->label, strerror(errno));
		cap->failed = true;
		return CAPTURE_ERR;
	}
	return CAPTURE_NONE;
}

bool capture_kernel_stats(struct capture *cap, uint64_t *received, uint64_t *dropped,
                          uint64_t *if_dropped)
{
	struct pcap_stat ps;
	if (!cap || cap->kind != CAPTURE_KIND_LIVE || pcap_stats(cap->pcap, &ps) != 0)
		return false;
	*received = ps.ps_recv;
	*dropped = ps.ps_drop;
	*if_dropped = ps.ps_ifdrop;
	return true;
}

bool capture_is_live(const struct capture *cap)
{
	return cap->kind == CAPTURE_KIND_LIVE;
}

/* tcpdump -D's flags: up, running, and what kind of interface. */
static void print_flags(FILE *out, const pcap_if_t *d)
{
	const char *sep = "";
	fputs(" [", out);
	if (d->flags & PCAP_IF_UP) {
		fputs("Up", out);
		sep = ", ";
	}
	if (d->flags & PCAP_IF_RUNNING) {
		fprintf(out, "%sRunning", sep);
		sep = ", ";
	}
	if (d->flags & PCAP_IF_LOOPBACK) {
		fprintf(out, "%sLoopback", sep);
		sep = ", ";
	}
	if (d->flags & PCAP_IF_WIRELESS)
		fprintf(out, "%sWireless", sep);
	fputs("]\n", out);
}

int capture_list_devices(FILE *out, char *err, size_t errlen)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_if_t *all = NULL;
	int i = 1;

	if (pcap_findalldevs(&all, errbuf) != 0) {
		capture_set_err(err, errlen, "cannot list interfaces: %s", errbuf);
		return -1;
	}
	if (!all) {
		capture_set_err(err, errlen, "%s",
		                "no interfaces found (capturing needs root, or the CAP_NET_RAW and "
		                "CAP_NET_ADMIN capabilities)");
		return -1;
	}
	for (pcap_if_t *d = all; d; d = d->next, i++) {
		fprintf(out, "%d.%s", i, d->name);
		if (d->description)
			fprintf(out, " (%s)", d->description);
		print_flags(out, d);
	}
	pcap_freealldevs(all);
	return 0;
}

const char *capture_library_versions(void)
{
	static char line[256];
	snprintf(line, sizeof(line), "%s, zlib %s", pcap_lib_version(), zlibVersion());
	return line;
}
