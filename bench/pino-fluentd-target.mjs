// pino-fluentd as a pino.transport target, so that it runs in pino's worker thread like uwsgi-forward/pino.
// pino-fluentd ships as a CLI (`node app | pino-fluentd`); its module export builds the same stream.
import pinoFluentd from "pino-fluentd";

export default (options) => pinoFluentd(options);
