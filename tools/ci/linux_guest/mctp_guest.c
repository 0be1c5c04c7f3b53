/*
 * mctp_guest: the Linux side of the serial-binding interop test. Run by /init in a small
 * QEMU guest whose ttyS1 is wired to the host, it puts the kernel's MCTP serial transport
 * (DSP0253, drivers/net/mctp/mctp-serial.c) on that port and exchanges messages with the
 * host's stack through AF_MCTP sockets, so what the host talks to is the kernel's own
 * framing, packetization, reassembly and tag handling, nothing written by this project.
 *
 * Parameters come from the kernel command line (/proc/cmdline), each optional:
 *   mctp.local=8          our EID
 *   mctp.peer=9           the host's EID
 *   mctp.vendor=0xffff    PCI vendor ID at the start of the echo request (type 0x7E)
 *   mctp.echolen=1023     echo request payload bytes after the type byte (1023: a 1024-byte
 *                         message with the type, 16 packets at the kernel's 64-byte payload)
 *   mctp.timeout=5000     ms to wait for an answer to each of our requests
 *   mctp.listen_timeout=30000  ms the listener waits for the host's request
 *   mctp.poll=200         ms each try of a wait@EID step waits for its answer
 *   mctp.run=geteid,echo,listen  the exchanges, in order (also: stats, app, seteid,
 *                         allocate@EID, wait@EID); geteid@EID and echo@EID ask EID, not
 *                         the peer (EID 0: the device on the link, by physical addressing)
 *   mctp.tty=/dev/ttyS1
 *
 * Every result is one console line starting "MCTP-GUEST " (see README.md for the grammar):
 * the host's test parses them, so their form is a contract.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <linux/if.h>
#include <linux/mctp.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/tty.h>

#ifndef AF_MCTP
#define AF_MCTP 45 /* include/linux/socket.h; older libc headers lack it */
#endif
#ifndef N_MCTP
#define N_MCTP 28 /* include/uapi/linux/tty.h */
#endif

#define MSG_TYPE_CONTROL 0x00
#define CONTROL_SET_EID 0x01
#define CONTROL_GET_EID 0x02
#define CONTROL_ALLOCATE_EIDS 0x08
#define MSG_TYPE_VENDOR_PCI 0x7E
#define MAX_MESSAGE 4096 /* larger than any request the host may send, to see truncation */

struct options {
	int local_eid;
	int peer_eid;
	int vendor_id;
	int echo_len;
	int timeout_ms;
	int listen_timeout_ms;
	int poll_ms;
	char run[256];
	char tty[64];
};

static struct options opts = {
	.local_eid = 8,
	.peer_eid = 9,
	.vendor_id = 0xFFFF,
	.echo_len = 1023,
	.timeout_ms = 5000,
	.listen_timeout_ms = 30000,
	.poll_ms = 200,
	.run = "geteid,echo,listen",
	.tty = "/dev/ttyS1",
};

static char netdev_name[IFNAMSIZ];
static int netdev_index;

/* One console line, in a single write() rather than stdio's pieces, so that it reaches the
 * tty whole (kernel messages, rare with "quiet", go to the UART by another path and may
 * still come between its bytes). Long enough for a 4 KiB message in hex. */
static void report(const char *name, const char *status, const char *fmt, ...)
{
	static char line[16384];
	int n = snprintf(line, sizeof(line), "MCTP-GUEST %s %s", name, status);
	if (fmt && *fmt) {
		va_list ap;
		line[n++] = ' ';
		va_start(ap, fmt);
		n += vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
		va_end(ap);
	}
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDOUT_FILENO, line, n) < 0)
		exit(3); /* no console: nobody would see anything */
}

/* Lower-case hex of buf into out (2 * len + 1 bytes). */
static char *hex(const uint8_t *buf, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[buf[i] >> 4];
		out[2 * i + 1] = digits[buf[i] & 15];
	}
	out[2 * len] = 0;
	return out;
}

static long elapsed_ms(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

/* The mctp.* words of the kernel command line. */
static void read_options(void)
{
	static char cmdline[4096];
	FILE *f = fopen("/proc/cmdline", "r");
	if (!f) {
		report("start", "FAIL", "reason=\"/proc/cmdline: %s\"", strerror(errno));
		return;
	}
	size_t n = fread(cmdline, 1, sizeof(cmdline) - 1, f);
	fclose(f);
	cmdline[n] = 0;
	for (char *word = strtok(cmdline, " \n"); word; word = strtok(NULL, " \n")) {
		char *value = strchr(word, '=');
		if (strncmp(word, "mctp.", 5) != 0 || !value)
			continue;
		*value++ = 0;
		const char *key = word + 5;
		if (!strcmp(key, "local"))
			opts.local_eid = strtol(value, NULL, 0);
		else if (!strcmp(key, "peer"))
			opts.peer_eid = strtol(value, NULL, 0);
		else if (!strcmp(key, "vendor"))
			opts.vendor_id = strtol(value, NULL, 0);
		else if (!strcmp(key, "echolen"))
			opts.echo_len = strtol(value, NULL, 0);
		else if (!strcmp(key, "timeout"))
			opts.timeout_ms = strtol(value, NULL, 0);
		else if (!strcmp(key, "listen_timeout"))
			opts.listen_timeout_ms = strtol(value, NULL, 0);
		else if (!strcmp(key, "poll"))
			opts.poll_ms = strtol(value, NULL, 0);
		else if (!strcmp(key, "run"))
			snprintf(opts.run, sizeof(opts.run), "%s", value);
		else if (!strcmp(key, "tty"))
			snprintf(opts.tty, sizeof(opts.tty), "%s", value);
		else
			report("start", "info", "ignored=mctp.%s", key);
	}
	if (opts.echo_len < 2)
		opts.echo_len = 2; /* the vendor ID always goes first */
	if (opts.echo_len > MAX_MESSAGE)
		opts.echo_len = MAX_MESSAGE;
}

/* ---- rtnetlink: the kernel's MCTP configuration interface (what mctpd and `mctp` use). */

struct nl_request {
	struct nlmsghdr header;
	union {
		struct ifinfomsg link;
		struct ifaddrmsg addr;
		struct rtmsg route;
	};
	char attributes[64];
};

static void add_attribute(struct nl_request *req, int type, const void *data, int len)
{
	struct rtattr *rta = (struct rtattr *)((char *)req + NLMSG_ALIGN(req->header.nlmsg_len));
	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	req->header.nlmsg_len = NLMSG_ALIGN(req->header.nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* Send one request with NLM_F_ACK and return the kernel's answer: 0 or a negative errno. */
static int netlink_call(struct nl_request *req)
{
	static unsigned int seq;
	char answer[512];
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	req->header.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	req->header.nlmsg_seq = ++seq;
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	int rc = 0;
	if (sendto(fd, req, req->header.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		rc = -errno;
	while (!rc) {
		ssize_t n = recv(fd, answer, sizeof(answer), 0);
		if (n < 0) {
			rc = -errno;
			break;
		}
		struct nlmsghdr *h = (struct nlmsghdr *)answer;
		for (; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq == seq && h->nlmsg_type == NLMSG_ERROR) {
				rc = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
				close(fd);
				return rc;
			}
		}
	}
	close(fd);
	return rc;
}

static int set_link_up(void)
{
	struct nl_request req = {0};
	req.header.nlmsg_len = NLMSG_LENGTH(sizeof(req.link));
	req.header.nlmsg_type = RTM_NEWLINK;
	req.link.ifi_family = AF_UNSPEC;
	req.link.ifi_index = netdev_index;
	req.link.ifi_flags = IFF_UP;
	req.link.ifi_change = IFF_UP;
	return netlink_call(&req);
}

/* net/mctp/device.c mctp_rtm_newaddr: family AF_MCTP, ifa_index, the EID as a u8 IFA_LOCAL. */
static int add_local_eid(uint8_t eid)
{
	struct nl_request req = {0};
	req.header.nlmsg_len = NLMSG_LENGTH(sizeof(req.addr));
	req.header.nlmsg_type = RTM_NEWADDR;
	req.header.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	req.addr.ifa_family = AF_MCTP;
	req.addr.ifa_index = netdev_index;
	add_attribute(&req, IFA_LOCAL, &eid, 1);
	return netlink_call(&req);
}

/* net/mctp/route.c mctp_newroute: family AF_MCTP, type RTN_UNICAST, RTA_DST (u8, the first
 * EID; rtm_dst_len is the range's size less one) and RTA_OIF. No RTAX_MTU: the device's 68. */
static int add_route_range(uint8_t first, uint8_t count)
{
	struct nl_request req = {0};
	uint32_t oif = netdev_index;
	req.header.nlmsg_len = NLMSG_LENGTH(sizeof(req.route));
	req.header.nlmsg_type = RTM_NEWROUTE;
	req.header.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	req.route.rtm_family = AF_MCTP;
	req.route.rtm_dst_len = count - 1;
	req.route.rtm_table = RT_TABLE_DEFAULT;
	req.route.rtm_protocol = RTPROT_STATIC;
	req.route.rtm_scope = RT_SCOPE_LINK;
	req.route.rtm_type = RTN_UNICAST;
	add_attribute(&req, RTA_DST, &first, 1);
	add_attribute(&req, RTA_OIF, &oif, 4);
	return netlink_call(&req);
}

static int add_route(uint8_t eid)
{
	return add_route_range(eid, 1);
}

/* The netdev the line discipline created: mctpserial<N>, N from an IDA, so look it up. */
static int find_netdev(void)
{
	DIR *dir = opendir("/sys/class/net");
	struct dirent *entry;
	if (!dir)
		return -errno;
	while ((entry = readdir(dir))) {
		if (!strncmp(entry->d_name, "mctpserial", 10)) {
			snprintf(netdev_name, sizeof(netdev_name), "%.*s", IFNAMSIZ - 1,
				 entry->d_name);
			break;
		}
	}
	closedir(dir);
	if (!netdev_name[0])
		return -ENODEV;
	char path[128];
	snprintf(path, sizeof(path), "/sys/class/net/%s/ifindex", netdev_name);
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	int found = fscanf(f, "%d", &netdev_index);
	fclose(f);
	return found == 1 ? 0 : -ENODEV;
}

/* The serial port in raw mode with the N_MCTP line discipline, which creates the netdev. The
 * descriptor stays open for the whole run: closing the tty would remove the netdev. */
static int tty_fd = -1;

static int setup(void)
{
	int fd = open(opts.tty, O_RDWR | O_NOCTTY | O_CLOEXEC);
	tty_fd = fd;
	if (fd < 0) {
		report("setup", "FAIL", "reason=\"open %s: %s\"", opts.tty, strerror(errno));
		return -1;
	}
	/* mctp-serial writes through tty->ops->write, past any output processing, but the
	 * UART's own settings (8 bits, no parity) still apply to what it receives. */
	struct termios tio;
	if (tcgetattr(fd, &tio) == 0) {
		cfmakeraw(&tio);
		cfsetspeed(&tio, B115200);
		tcsetattr(fd, TCSANOW, &tio);
	}
	int ldisc = N_MCTP;
	if (ioctl(fd, TIOCSETD, &ldisc) < 0) {
		report("setup", "FAIL", "reason=\"TIOCSETD N_MCTP: %s\"", strerror(errno));
		return -1;
	}
	int rc = find_netdev();
	const char *step = "find netdev";
	if (!rc) {
		step = "link up";
		rc = set_link_up();
	}
	if (!rc) {
		step = "RTM_NEWADDR";
		rc = add_local_eid(opts.local_eid);
	}
	if (!rc) {
		step = "RTM_NEWROUTE";
		rc = add_route(opts.peer_eid);
	}
	if (rc) {
		report("setup", "FAIL", "reason=\"%s: %s\"", step, strerror(-rc));
		return -1;
	}
	report("setup", "ok", "dev=%s ifindex=%d local=%d peer=%d", netdev_name, netdev_index,
	       opts.local_eid, opts.peer_eid);
	return 0;
}

/* ---- the exchanges: each prints exactly one "ok" or "FAIL" line and returns 0 or -1. */

static int mctp_socket(int timeout_ms)
{
	int sd = socket(AF_MCTP, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sd < 0)
		return -1;
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	if (setsockopt(sd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		close(sd);
		return -1;
	}
	return sd;
}

static const char *recv_error(int err)
{
	/* SO_RCVTIMEO expiry reads as EAGAIN, whose text does not say what happened. */
	return err == EAGAIN ? "no answer before the timeout" : strerror(err);
}

/* Where a request goes: an EID through the kernel's routes, or (physical) EID 0 on our
 * netdev by extended addressing, as mctpd reaches a device that has no EID yet (a serial
 * link has no hardware address: halen 0). The kernel takes the answer to a request to EID 0
 * from any EID. */
struct target {
	int eid;
	int physical;
	int timeout_ms;
};

static char why[256]; /* the reason a request failed, for its FAIL line */

/* Send a request (the kernel allocates an owned tag: TO set, tag chosen by it) and wait for
 * the answer on the same socket, which the kernel matches to the request by that tag. The
 * answer's length, or -1 with the reason in `why`. */
static ssize_t exchange(const struct target *target, uint8_t type, const uint8_t *msg,
			size_t len, uint8_t *answer, struct sockaddr_mctp *from)
{
	int sd = mctp_socket(target->timeout_ms);
	if (sd < 0) {
		snprintf(why, sizeof(why), "socket(AF_MCTP): %s", strerror(errno));
		return -1;
	}
	struct sockaddr_mctp_ext to = {
		.smctp_base.smctp_family = AF_MCTP,
		.smctp_base.smctp_network = MCTP_NET_ANY,
		.smctp_base.smctp_addr.s_addr = target->eid,
		.smctp_base.smctp_type = type,
		.smctp_base.smctp_tag = MCTP_TAG_OWNER,
		.smctp_ifindex = netdev_index,
	};
	socklen_t to_len = sizeof(to.smctp_base);
	int one = 1;
	if (target->physical) {
		to_len = sizeof(to);
		if (setsockopt(sd, SOL_MCTP, MCTP_OPT_ADDR_EXT, &one, sizeof(one)) < 0) {
			snprintf(why, sizeof(why), "MCTP_OPT_ADDR_EXT: %s", strerror(errno));
			close(sd);
			return -1;
		}
	}
	if (sendto(sd, msg, len, 0, (struct sockaddr *)&to, to_len) < 0) {
		snprintf(why, sizeof(why), "sendto: %s", strerror(errno));
		close(sd);
		return -1;
	}
	struct sockaddr_mctp_ext answered;
	socklen_t from_len = sizeof(answered);
	ssize_t n = recvfrom(sd, answer, MAX_MESSAGE, MSG_TRUNC, (struct sockaddr *)&answered,
			     &from_len);
	int err = errno;
	close(sd);
	*from = answered.smctp_base;
	if (n < 0) {
		snprintf(why, sizeof(why), "recvfrom: %s", recv_error(err));
		return -1;
	}
	if (n > MAX_MESSAGE) {
		snprintf(why, sizeof(why), "answer of %zd bytes, more than %d", n, MAX_MESSAGE);
		return -1;
	}
	if ((!target->physical && from->smctp_addr.s_addr != target->eid) ||
	    from->smctp_type != type) {
		snprintf(why, sizeof(why), "answer from EID %d type 0x%02x",
			 from->smctp_addr.s_addr, from->smctp_type);
		return -1;
	}
	return n;
}

/* exchange(), its failure reported as the FAIL line of `name`. */
static ssize_t request(const char *name, const struct target *target, uint8_t type,
		       const uint8_t *msg, size_t len, uint8_t *answer, struct sockaddr_mctp *from)
{
	ssize_t n = exchange(target, type, msg, len, answer, from);
	if (n < 0)
		report(name, "FAIL", "reason=\"%s\"", why);
	return n;
}

/* A control answer's check: at least `min_len` bytes, Rq clear, the command sent, SUCCESS. */
static int control_answer_ok(const char *name, const uint8_t *answer, ssize_t n,
			     uint8_t command, ssize_t min_len, const char *text)
{
	if (n < 3 || answer[0] != 0x00 || answer[1] != command) {
		report(name, "FAIL", "reason=\"not a response to command 0x%02x\" data=%s", command,
		       text);
		return 0;
	}
	if (answer[2] != 0 || n < min_len) {
		report(name, "FAIL", "reason=\"completion code %d, %zd bytes\" data=%s", answer[2],
		       n, text);
		return 0;
	}
	return 1;
}

/* Control Get Endpoint ID (DSP0236 12.4): Rq=1, instance 0, command 0x02, no data. */
static int run_geteid(const char *name, const struct target *target)
{
	static uint8_t answer[MAX_MESSAGE];
	static char text[2 * MAX_MESSAGE + 1];
	static const uint8_t get_eid[] = {0x80, CONTROL_GET_EID};
	struct sockaddr_mctp from;
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	ssize_t n = request(name, target, MSG_TYPE_CONTROL, get_eid, sizeof(get_eid), answer,
			    &from);
	if (n < 0)
		return -1;
	hex(answer, n, text);
	/* A response copies the instance ID and command and clears Rq; byte 2 is its completion
	 * code, byte 3 the EID when that is SUCCESS. */
	if (n < 3 || answer[0] != 0x00 || answer[1] != CONTROL_GET_EID) {
		report(name, "FAIL", "reason=\"not a Get Endpoint ID response\" data=%s", text);
		return -1;
	}
	report(name, "ok", "len=%zd cc=%d eid=%d tag=%d ms=%ld data=%s", n, answer[2],
	       n > 3 ? answer[3] : -1, from.smctp_tag & MCTP_TAG_MASK, elapsed_ms(&start), text);
	return 0;
}

/* Get Endpoint ID to the target, again each time a try (mctp.poll ms) goes unanswered, until
 * it answers or mctp.timeout ms have passed: how a bus owner waits for a bridge to set up
 * the endpoints behind it (until then the bridge has no route to them, and drops the
 * request). */
static int run_wait(const char *name, const struct target *target)
{
	static uint8_t answer[MAX_MESSAGE];
	static const uint8_t get_eid[] = {0x80, CONTROL_GET_EID};
	struct target each_try = *target;
	struct sockaddr_mctp from;
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	each_try.timeout_ms = opts.poll_ms;
	for (int tries = 1;; tries++) {
		struct timespec this_try;
		clock_gettime(CLOCK_MONOTONIC, &this_try);
		ssize_t n = exchange(&each_try, MSG_TYPE_CONTROL, get_eid, sizeof(get_eid), answer,
				     &from);
		if (n >= 4 && answer[1] == CONTROL_GET_EID && answer[2] == 0 &&
		    answer[3] == target->eid) {
			report(name, "ok", "eid=%d tries=%d ms=%ld", target->eid, tries,
			       elapsed_ms(&start));
			return 0;
		}
		if (elapsed_ms(&start) >= opts.timeout_ms) {
			report(name, "FAIL", "reason=\"no Get Endpoint ID answer in %d tries: %s\"",
			       tries, n < 0 ? why : "a wrong answer");
			return -1;
		}
		long spent = elapsed_ms(&this_try); /* (a try that failed at once: no busy loop) */
		if (spent < opts.poll_ms)
			usleep((opts.poll_ms - spent) * 1000);
	}
}

static int pool_size = -1; /* from the Set Endpoint ID answer: what Allocate Endpoint IDs gives */

/* Control Set Endpoint ID (DSP0236 12.3), operation "set EID", to a device without an EID
 * (EID 0, on our netdev by physical addressing): it is to take the target's EID. Its answer
 * says the EID pool it wants (byte 5), which allocate@EID then gives it. Once it has its EID,
 * it is reached through the route setup added (peer). */
static int run_seteid(const char *name, const struct target *target)
{
	static uint8_t answer[MAX_MESSAGE];
	static char text[2 * MAX_MESSAGE + 1];
	uint8_t set_eid[] = {0x80, CONTROL_SET_EID, 0x00, target->eid};
	struct target device = {.eid = 0, .physical = 1, .timeout_ms = target->timeout_ms};
	struct sockaddr_mctp from;
	ssize_t n = request(name, &device, MSG_TYPE_CONTROL, set_eid, sizeof(set_eid), answer,
			    &from);
	if (n < 0)
		return -1;
	hex(answer, n, text);
	if (!control_answer_ok(name, answer, n, CONTROL_SET_EID, 6, text))
		return -1;
	/* Byte 3: the assignment status (bits 5:4, 0: accepted) and the pool's (bits 1:0); byte
	 * 4 the EID it now has, byte 5 the pool size it wants. */
	if (answer[4] != target->eid) {
		report(name, "FAIL", "reason=\"it took EID %d, not %d\" data=%s", answer[4],
		       target->eid, text);
		return -1;
	}
	pool_size = answer[5];
	report(name, "ok", "len=%zd eid=%d pool=%d from=%d data=%s", n, answer[4], pool_size,
	       from.smctp_addr.s_addr, text);
	return 0;
}

/* Control Allocate Endpoint IDs (DSP0236 12.10), operation "allocate", to the peer (the
 * bridge whose EID seteid set): the pool it asked for, from the target EID on. Once it has
 * accepted it, one route for the pool over our netdev: the pool is behind the bridge, and the
 * bridge is on this link (the kernel has no gateway routes before 6.13 and no mctpd here). */
static int run_allocate(const char *name, const struct target *target)
{
	static uint8_t answer[MAX_MESSAGE];
	static char text[2 * MAX_MESSAGE + 1];
	struct target bridge = {.eid = opts.peer_eid, .timeout_ms = target->timeout_ms};
	struct sockaddr_mctp from;
	if (pool_size < 1) {
		report(name, "FAIL", "reason=\"no pool size: run seteid first (pool=%d)\"",
		       pool_size);
		return -1;
	}
	uint8_t allocate[] = {0x80, CONTROL_ALLOCATE_EIDS, 0x00, pool_size, target->eid};
	ssize_t n = request(name, &bridge, MSG_TYPE_CONTROL, allocate, sizeof(allocate), answer,
			    &from);
	if (n < 0)
		return -1;
	hex(answer, n, text);
	if (!control_answer_ok(name, answer, n, CONTROL_ALLOCATE_EIDS, 6, text))
		return -1;
	/* Byte 3: 0 when the allocation was accepted; then the pool's size and first EID. */
	if (answer[3] != 0 || answer[4] != pool_size || answer[5] != target->eid) {
		report(name, "FAIL", "reason=\"allocation refused or changed\" data=%s", text);
		return -1;
	}
	int rc = add_route_range(target->eid, pool_size);
	if (rc) {
		report(name, "FAIL", "reason=\"RTM_NEWROUTE %d..%d: %s\" data=%s", target->eid,
		       target->eid + pool_size - 1, strerror(-rc), text);
		return -1;
	}
	report(name, "ok", "len=%zd first=%d pool=%d route=%d-%d data=%s", n, target->eid,
	       pool_size, target->eid, target->eid + pool_size - 1, text);
	return 0;
}

/* Byte i of the echo request: the PCI vendor ID big-endian, then the pattern that
 * tools/run_demo.py sends, (i * 7) & 0xFF counted from the byte after the vendor ID. */
static void fill_echo_request(uint8_t *msg, int len)
{
	msg[0] = opts.vendor_id >> 8;
	msg[1] = opts.vendor_id & 0xFF;
	for (int i = 2; i < len; i++)
		msg[i] = ((i - 2) * 7) & 0xFF;
}

static int run_echo(const char *name, const struct target *target)
{
	static uint8_t msg[MAX_MESSAGE], answer[MAX_MESSAGE];
	struct sockaddr_mctp from;
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	fill_echo_request(msg, opts.echo_len);
	ssize_t n = request(name, target, MSG_TYPE_VENDOR_PCI, msg, opts.echo_len, answer, &from);
	if (n < 0)
		return -1;
	if (n != opts.echo_len) {
		report(name, "FAIL", "reason=\"answer of %zd bytes, sent %d\"", n, opts.echo_len);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (answer[i] != msg[i]) {
			report(name, "FAIL", "reason=\"byte %d is 0x%02x, sent 0x%02x\"", i,
			       answer[i], msg[i]);
			return -1;
		}
	}
	report(name, "ok", "len=%zd tag=%d ms=%ld", n, from.smctp_tag & MCTP_TAG_MASK,
	       elapsed_ms(&start));
	return 0;
}

/* Take one request on type 0x7E from anyone and answer it with the same bytes. */
static int run_listen(void)
{
	static uint8_t msg[MAX_MESSAGE];
	static char text[2 * MAX_MESSAGE + 1];
	int sd = mctp_socket(opts.listen_timeout_ms);
	if (sd < 0) {
		report("listen", "FAIL", "reason=\"socket(AF_MCTP): %s\"", strerror(errno));
		return -1;
	}
	struct sockaddr_mctp local = {
		.smctp_family = AF_MCTP,
		.smctp_network = MCTP_NET_ANY,
		.smctp_addr.s_addr = MCTP_ADDR_ANY,
		.smctp_type = MSG_TYPE_VENDOR_PCI,
	};
	if (bind(sd, (struct sockaddr *)&local, sizeof(local)) < 0) {
		report("listen", "FAIL", "reason=\"bind: %s\"", strerror(errno));
		close(sd);
		return -1;
	}
	/* Only now is a request delivered rather than dropped: the host waits for this line. */
	report("listen", "ready", "type=0x%02x eid=%d", MSG_TYPE_VENDOR_PCI, opts.local_eid);
	struct sockaddr_mctp from;
	socklen_t from_len = sizeof(from);
	ssize_t n = recvfrom(sd, msg, sizeof(msg), MSG_TRUNC, (struct sockaddr *)&from, &from_len);
	if (n < 0) {
		report("listen", "FAIL", "reason=\"recvfrom: %s\"", recv_error(errno));
		close(sd);
		return -1;
	}
	if (n > (ssize_t)sizeof(msg)) {
		report("listen", "FAIL", "reason=\"request of %zd bytes, more than %zu\"", n,
		       sizeof(msg));
		close(sd);
		return -1;
	}
	/* The request's tag arrives with TO set; the response carries the same tag, TO clear. */
	int request_tag = from.smctp_tag;
	from.smctp_tag &= ~MCTP_TAG_OWNER;
	if (sendto(sd, msg, n, 0, (struct sockaddr *)&from, sizeof(from)) < 0) {
		report("listen", "FAIL", "reason=\"sendto: %s\"", strerror(errno));
		close(sd);
		return -1;
	}
	close(sd);
	report("listen", "ok", "len=%zd from=%d tag=%d to=%d data=%s", n, from.smctp_addr.s_addr,
	       request_tag & MCTP_TAG_MASK, !!(request_tag & MCTP_TAG_OWNER), hex(msg, n, text));
	return 0;
}

/* One of the netdev's counters, or -1. */
static long long read_stat(const char *name)
{
	char path[128];
	long long value = -1;
	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", netdev_name, name);
	FILE *f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%lld", &value) != 1)
			value = -1;
		fclose(f);
	}
	return value;
}

/* What the kernel still has to send leaves before the counters are read and the machine
 * ends: mctp-serial hands packets to the tty from a workqueue and the UART sends from its
 * buffer, so the last packets of a response can still be on their way when sendto() has
 * returned (a host then waits for a packet that a reboot threw away). Wait until tx_packets
 * stops moving, then until the tty's output has drained, then a little for QEMU's socket. */
static void drain_output(void)
{
	long long last = -1, now = read_stat("tx_packets");
	for (int i = 0; i < 100 && now != last; i++) {
		last = now;
		usleep(20000);
		now = read_stat("tx_packets");
	}
	if (tty_fd >= 0)
		tcdrain(tty_fd);
	usleep(100000);
}

/* A program the host put in the initramfs (run.py's Guest(files=...), in this folder): /app/run,
 * run while the link is up, with MCTP_LOCAL_EID, MCTP_PEER_EID and MCTP_NETDEV in its
 * environment. It prints its own MCTP-GUEST lines; this one says how it ended. */
static int run_app(void)
{
	static const char path[] = "/app/run";
	char number[16];
	if (access(path, X_OK) < 0) {
		report("app", "FAIL", "reason=\"%s: %s\"", path, strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		report("app", "FAIL", "reason=\"fork: %s\"", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		snprintf(number, sizeof(number), "%d", opts.local_eid);
		setenv("MCTP_LOCAL_EID", number, 1);
		snprintf(number, sizeof(number), "%d", opts.peer_eid);
		setenv("MCTP_PEER_EID", number, 1);
		setenv("MCTP_NETDEV", netdev_name, 1);
		execl(path, path, (char *)NULL);
		report("app", "FAIL", "reason=\"exec %s: %s\"", path, strerror(errno));
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			report("app", "FAIL", "reason=\"waitpid: %s\"", strerror(errno));
			return -1;
		}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		report("app", "ok", "status=0");
		return 0;
	}
	if (WIFEXITED(status))
		report("app", "FAIL", "status=%d", WEXITSTATUS(status));
	else
		report("app", "FAIL", "signal=%d", WTERMSIG(status));
	return -1;
}

/* The netdev's counters (drivers/net/mctp/mctp-serial.c keeps rx/tx packets and bytes, and
 * counts a bad FCS as rx_crc_errors and rx_dropped), once what it sends has left. */
static int run_stats(void)
{
	static const char *names[] = {"rx_packets", "tx_packets",    "rx_bytes",  "tx_bytes",
				      "rx_dropped", "rx_crc_errors", "tx_dropped", "rx_errors"};
	char line[512];
	drain_output();
	int n = snprintf(line, sizeof(line), "dev=%s", netdev_name);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		n += snprintf(line + n, sizeof(line) - n, " %s=%lld", names[i], read_stat(names[i]));
	report("stats", "info", "%s", line);
	return 0;
}

int main(void)
{
	/* The console is stdout; unbuffered writes keep our lines in order with the kernel's. */
	setvbuf(stdout, NULL, _IONBF, 0);
	read_options();
	report("start", "info", "local=%d peer=%d vendor=0x%04x echolen=%d timeout=%d run=%s",
	       opts.local_eid, opts.peer_eid, opts.vendor_id, opts.echo_len, opts.timeout_ms,
	       opts.run);
	int ok = 0, failed = 0;
	if (setup() < 0) {
		report("done", "FAIL", "ok=0 failed=1");
		return 1;
	}
	char run[sizeof(opts.run)];
	int stats_last = 0; /* the run ended with a stats line: no second one below */
	snprintf(run, sizeof(run), "%s", opts.run);
	for (char *name = strtok(run, ","); name; name = strtok(NULL, ",")) {
		/* "step@EID": the step's target EID; without it, the peer. */
		char step[32];
		struct target target = {.eid = opts.peer_eid, .timeout_ms = opts.timeout_ms};
		snprintf(step, sizeof(step), "%s", name);
		char *at = strchr(step, '@');
		if (at) {
			*at = 0;
			target.eid = strtol(at + 1, NULL, 0);
			target.physical = target.eid == 0; /* EID 0: whoever is on the link */
		}
		int rc;
		stats_last = !strcmp(step, "stats");
		if (!strcmp(step, "geteid"))
			rc = run_geteid(name, &target);
		else if (!strcmp(step, "echo"))
			rc = run_echo(name, &target);
		else if (!strcmp(step, "wait"))
			rc = run_wait(name, &target);
		else if (!strcmp(step, "seteid"))
			rc = run_seteid(name, &target);
		else if (!strcmp(step, "allocate"))
			rc = run_allocate(name, &target);
		else if (!strcmp(step, "listen"))
			rc = run_listen();
		else if (!strcmp(step, "stats"))
			rc = run_stats();
		else if (!strcmp(step, "app"))
			rc = run_app();
		else {
			report(name, "FAIL", "reason=\"unknown exchange\"");
			rc = -1;
		}
		if (rc)
			failed++;
		else
			ok++;
	}
	if (!stats_last)
		run_stats(); /* (which lets what is still being sent leave first) */
	report("done", failed ? "FAIL" : "ok", "ok=%d failed=%d", ok, failed);
	return failed ? 1 : 0;
}
