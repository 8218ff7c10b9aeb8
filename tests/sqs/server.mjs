// server.mjs: starts local-aws-sqs on 127.0.0.1 (the port given, 0 for a free one) with the queues named on the
// command line, and prints {"port": N} on stdout once it listens; runs until it is killed (by pid, by the test).
import { createSqsServer } from "local-aws-sqs";

const [port = "0", ...queues] = process.argv.slice(2);
const server = await createSqsServer({
    port: Number(port),
    hostname: "127.0.0.1",
    emulateQueueCreationLifecycle: false,
    queues: queues.map((name) => ({ QueueName: name })),
});
const address = server.address();
process.stdout.write(JSON.stringify({ port: address.port }) + "\n");
