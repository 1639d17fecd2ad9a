/* kafkamock: a Kafka cluster for the Kafka sink's tests: librdkafka's mock cluster (brokers on
 * localhost TCP ports), its bootstrap list printed as the first line; commands on standard
 * input ("down": every broker goes away, "up": back); at the end of standard input, every
 * message of the topic from the beginning, one a line: partition TAB key TAB value.
 *   kafkamock TOPIC [PARTITIONS [BROKERS]] */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_PARTITIONS = 64, DUMP_SECONDS = 30 };

static void quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	(void)level;
	(void)fac;
	(void)buf;
}

static rd_kafka_t *new_handle(rd_kafka_type_t type, const char *const (*set)[2], size_t n)
{
	char err[256];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	for (size_t i = 0; i < n; i++)
		if (rd_kafka_conf_set(c, set[i][0], set[i][1], err, sizeof(err)) !=
		    RD_KAFKA_CONF_OK) {
			fprintf(stderr, "kafkamock: %s: %s\n", set[i][0], err);
			exit(2);
		}
	rd_kafka_conf_set_log_cb(c, quiet_log);
	rd_kafka_t *rk = rd_kafka_new(type, c, err, sizeof(err));
	if (!rk) {
		fprintf(stderr, "kafkamock: %s\n", err);
		exit(2);
	}
	return rk;
}

static void print_message(const rd_kafka_message_t *m)
{
	printf("%d\t%.*s\t%.*s\n", (int)m->partition, (int)m->key_len,
	       m->key ? (const char *)m->key : "", (int)m->len,
	       m->payload ? (const char *)m->payload : "");
}

/* Reads every partition from its first message to its end (or for DUMP_SECONDS at most). */
static int dump_topic(const char *bootstraps, const char *topic, int partitions)
{
	const char *const set[][2] = {{"bootstrap.servers", bootstraps},
	                              {"group.id", "kafkamock"},
	                              {"enable.auto.commit", "false"},
	                              {"enable.partition.eof", "true"}};
	rd_kafka_t *rk = new_handle(RD_KAFKA_CONSUMER, set, sizeof(set) / sizeof(set[0]));
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(partitions);
	for (int p = 0; p < partitions; p++)
		rd_kafka_topic_partition_list_add(parts, topic, p)->offset =
		    RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_assign(rk, parts);
	rd_kafka_topic_partition_list_destroy(parts);
	int ended = 0;
	time_t deadline = time(NULL) + DUMP_SECONDS;
	while (ended < partitions && time(NULL) < deadline) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
		if (!m)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
			ended++;
		else if (m->err)
			fprintf(stderr, "kafkamock: %s\n", rd_kafka_message_errstr(m));
		else
			print_message(m);
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	if (ended < partitions)
		fprintf(stderr, "kafkamock: %d of %d partitions read to their end\n", ended,
		        partitions);
	return ended == partitions ? 0 : 1;
}

/* The commands, one a line, until standard input ends. */
static void serve(rd_kafka_mock_cluster_t *mc)
{
	char line[64];
	while (fgets(line, sizeof(line), stdin)) {
		if (strncmp(line, "down", 4) == 0)
			rd_kafka_mock_broker_set_down(mc, -1);
		else if (strncmp(line, "up", 2) == 0)
			rd_kafka_mock_broker_set_up(mc, -1);
		else
			fprintf(stderr, "kafkamock: unknown command %s", line);
	}
	rd_kafka_mock_broker_set_up(mc, -1);
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: kafkamock TOPIC [PARTITIONS [BROKERS]]\n");
		return 2;
	}
	int partitions = argc > 2 ? atoi(argv[2]) : 4, brokers = argc > 3 ? atoi(argv[3]) : 3;
	if (partitions < 1 || partitions > MAX_PARTITIONS || brokers < 1 || brokers > 16) {
		fprintf(stderr, "kafkamock: 1 to %d partitions, 1 to 16 brokers\n", MAX_PARTITIONS);
		return 2;
	}
	const char *const set[][2] = {{"client.id", "kafkamock"}};
	rd_kafka_t *owner = new_handle(RD_KAFKA_PRODUCER, set, 1);
	rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(owner, brokers);
	if (!mc || rd_kafka_mock_topic_create(mc, argv[1], partitions, brokers > 1 ? 2 : 1)) {
		fprintf(stderr, "kafkamock: no mock cluster\n");
		return 1;
	}
	char *bootstraps = strdup(rd_kafka_mock_cluster_bootstraps(mc));
	printf("%s\n", bootstraps);
	fflush(stdout);
	serve(mc);
	int rc = dump_topic(bootstraps, argv[1], partitions);
	fflush(stdout);
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(owner);
	free(bootstraps);
	return rc;
}
