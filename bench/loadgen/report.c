/* report.c - text and JSON reports and the smoke check; see report.h. */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "report.h"

static const char *const class_name[LG_ERR_CLASSES] = {
    [LG_ERR_FAILURE] = "failure",     [LG_ERR_CLOSE] = "close",       [LG_ERR_CONNECT] = "connect",
    [LG_ERR_HANDSHAKE] = "handshake", [LG_ERR_PROTOCOL] = "protocol", [LG_ERR_LOCAL] = "loadgen",
};

static const char *mode_name(enum lg_mode m)
{
    switch (m) {
    case LG_MODE_CLOSED: return "closed";
    case LG_MODE_OPEN: return "open";
    case LG_MODE_IDLE: return "idle";
    case LG_MODE_RELAY_DIRECTED: return "relay-directed";
    case LG_MODE_RELAY_BROADCAST: return "relay-broadcast";
    }
    return "?";
}

static double per_s(const struct report *r, uint64_t n)
{
    return r->measured_s > 0 ? (double)n / r->measured_s : 0.0;
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

static double self_cpu_pct(const struct report *r)
{
    if (r->measured_s <= 0)
        return 0;
    return 100.0 * (double)r->self_cpu_ns / 1e9 / (r->measured_s * r->cfg->threads);
}

/* Server CPU microseconds per announce cycle (announce + its offers + their answers). */
static double us_per_cycle(const struct report *r)
{
    if (r->server_cpu_ns < 0 || !r->meas.announces)
        return -1;
    return (double)r->server_cpu_ns / 1e3 / (double)r->meas.announces;
}

static uint64_t errors_total(const struct lg_stats *s)
{
    uint64_t n = 0;
    for (unsigned c = 0; c < LG_ERR_CLASSES; c++)
        n += s->err_class[c];
    return n;
}

static int64_t ts_delta(const struct report *r, const char *name)
{
    int64_t a = probe_stat(&r->ts_before, name), b = probe_stat(&r->ts_after, name);
    return (a < 0 || b < 0) ? -1 : b - a;
}

__attribute__((format(printf, 2, 3))) static void why(struct report *r, const char *fmt, ...)
{
    va_list ap;
    r->check_ok = 0;
    va_start(ap, fmt);
    vsnprintf(r->check_why, sizeof r->check_why, fmt, ap);
    va_end(ap);
}

/* The relay modes: every member announced, relays went out and came back whole,
 * nothing was refused, dropped, late or wrong, and the tracker agrees. */
static void check_relay(struct report *r)
{
    const struct lg_stats *t = &r->total;
    uint64_t per = r->cfg->mode == LG_MODE_RELAY_DIRECTED ? 1 : r->cfg->room_size - 1;
    if (t->responses - t->unmatched < r->cfg->connections) {
        why(r, "%" PRIu64 " of %u members announced", t->responses - t->unmatched,
            r->cfg->connections);
        return;
    }
    if (!t->relays_out) {
        why(r, "no relay was sent");
        return;
    }
    if (t->relays_refused) {
        why(r, "%" PRIu64 " relays refused (first: %s)", t->relays_refused,
            t->n_err ? t->err[0].text : "?");
        return;
    }
    if (errors_total(t)) {
        why(r, "%" PRIu64 " errors (first: %s)", errors_total(t), t->n_err ? t->err[0].text : "?");
        return;
    }
    if (t->relays_expired || t->frames_late || t->frames_dup) {
        why(r, "%" PRIu64 " relays expired (%" PRIu64 " frames missing), %" PRIu64 " late frames",
            t->relays_expired, t->frames_missing, t->frames_late);
        return;
    }
    if (t->relays_done + r->inflight_end != t->relays_out || t->frames_in != t->relays_done * per) {
        why(r,
            "%" PRIu64 " relays sent, %" PRIu64 " done, %" PRIu64 " in flight at the end; %" PRIu64
            " frames",
            t->relays_out, t->relays_done, r->inflight_end, t->frames_in);
        return;
    }
    if (r->ts_before.ok && r->ts_after.ok) {
        int64_t rel = ts_delta(r, "relays"), fr = ts_delta(r, "relayFrames");
        int64_t refused = ts_delta(r, "relaysRefused"), drop = ts_delta(r, "offersDropped");
        if (rel != (int64_t)t->relays_out || refused != 0) {
            why(r,
                "tracker accepted %" PRId64 " relays (refused %" PRId64 "), loadgen sent %" PRIu64,
                rel, refused, t->relays_out);
            return;
        }
        if (fr - drop != (int64_t)t->frames_in || drop) {
            why(r,
                "tracker sent %" PRId64 " relay frames (%" PRId64 " dropped), loadgen got %" PRIu64,
                fr, drop, t->frames_in);
            return;
        }
    }
}

void report_check(struct report *r)
{
    const struct lg_stats *t = &r->total;
    uint64_t replies = t->responses - t->unmatched + t->failed_replies;
    r->check_ok = 1;
    r->check_why[0] = '\0';
    if (LG_MODE_IS_RELAY(r->cfg->mode)) {
        check_relay(r);
        return;
    }
    if (!t->announces) {
        why(r, "no announce was sent");
        return;
    }
    if (t->err_class[LG_ERR_FAILURE]) {
        why(r, "%" PRIu64 " failure reasons (first: %s)", t->err_class[LG_ERR_FAILURE],
            t->n_err ? t->err[0].text : "?");
        return;
    }
    if (t->err_class[LG_ERR_CLOSE]) {
        why(r, "%" PRIu64 " unexpected closes", t->err_class[LG_ERR_CLOSE]);
        return;
    }
    uint64_t other = errors_total(t);
    if (other) {
        why(r, "%" PRIu64 " errors (connect, handshake, protocol or loadgen)", other);
        return;
    }
    if (t->unmatched) {
        why(r, "%" PRIu64 " announce responses with no announce in flight", t->unmatched);
        return;
    }
    if (r->inflight_end > r->cfg->connections ||
        replies + t->lost + r->inflight_end != t->announces) {
        why(r,
            "responses != announces: %" PRIu64 " announces, %" PRIu64 " replies, %" PRIu64
            " lost, %" PRIu64 " in flight at the end",
            t->announces, replies, t->lost, r->inflight_end);
        return;
    }
    if (r->cfg->mode != LG_MODE_IDLE && r->cfg->offers) {
        if (!t->offers_in) {
            why(r, "no offer was received");
            return;
        }
        if (r->cfg->answer && !t->answers_in) {
            why(r, "no answer was received");
            return;
        }
    }
    if (r->ts_before.ok && r->ts_after.ok) {
        int64_t ann = ts_delta(r, "announces");
        int64_t fwd = ts_delta(r, "offersForwarded"), drop = ts_delta(r, "offersDropped");
        int64_t afwd = ts_delta(r, "answersForwarded");
        if (ann != (int64_t)(t->announces + t->answers_out)) {
            why(r, "tracker counted %" PRId64 " announces, loadgen sent %" PRIu64, ann,
                t->announces + t->answers_out);
            return;
        }
        if (fwd - drop != (int64_t)t->offers_in) {
            why(r,
                "tracker forwarded %" PRId64 " offers (%" PRId64 " dropped), loadgen got %" PRIu64,
                fwd, drop, t->offers_in);
            return;
        }
        if (afwd != (int64_t)t->answers_in) {
            why(r, "tracker forwarded %" PRId64 " answers, loadgen got %" PRIu64, afwd,
                t->answers_in);
            return;
        }
    }
}

static void text_errors(FILE *f, const struct lg_stats *s, const char *title)
{
    uint64_t n = errors_total(s);
    if (!n) {
        fprintf(f, "%-15s none\n", title);
        return;
    }
    fprintf(f, "%-15s %" PRIu64 ":", title, n);
    for (unsigned c = 0; c < LG_ERR_CLASSES; c++)
        if (s->err_class[c])
            fprintf(f, " %s %" PRIu64, class_name[c], s->err_class[c]);
    fprintf(f, "\n");
    for (unsigned i = 0; i < s->n_err; i++)
        fprintf(f, "%15s %10" PRIu64 "  %s: %s\n", "", s->err[i].n, class_name[s->err[i].cls],
                s->err[i].text);
    if (s->err_other)
        fprintf(f, "%15s %10" PRIu64 "  (other texts)\n", "", s->err_other);
}

static void text_idle(FILE *f, const struct report *r)
{
    const struct lg_config *c = r->cfg;
    unsigned n = r->idle_done;
    fprintf(f,
            "connected      %u of %u announced and idle in %.1f s (%u failed), %u swarms, held "
            "%.0f s\n",
            n, c->connections, r->connect_s, r->idle_gone, c->swarms, c->hold);
    if (c->server_pid && r->rss_before_kb >= 0 && r->rss_after_kb >= 0 && n) {
        fprintf(f,
                "server RSS     %.1f MiB before, %.1f MiB with them (+%.0f bytes per connection)\n",
                r->rss_before_kb / 1024.0, r->rss_after_kb / 1024.0,
                (double)(r->rss_after_kb - r->rss_before_kb) * 1024.0 / n);
        fprintf(f,
                "               during the hold: min %.1f MiB, max %.1f MiB, end %.1f MiB (%+.1f "
                "%%); peak (VmHWM) %.1f MiB\n",
                r->rss_min_kb / 1024.0, r->rss_max_kb / 1024.0, r->rss_end_kb / 1024.0,
                r->rss_after_kb > 0
                    ? 100.0 * (double)(r->rss_end_kb - r->rss_after_kb) / (double)r->rss_after_kb
                    : 0.0,
                r->server_hwm_kb / 1024.0);
    }
    fprintf(f, "announces      %" PRIu64 " (one per connection, then one every %s)\n",
            r->total.announces,
            c->reannounce < 0   ? "interval the tracker sent"
            : c->reannounce > 0 ? "--reannounce s"
                                : "never");
    if (c->server_pid && r->server_cpu_ns >= 0 && r->measured_s > 0)
        fprintf(f, "server cpu     %.1f %% of one core while the connections idled\n",
                100.0 * (double)r->server_cpu_ns / 1e9 / r->measured_s);
    if (r->tcp_mem_before >= 0 && n)
        fprintf(f,
                "kernel TCP mem %" PRId64 " -> %" PRId64
                " pages (%+.0f bytes per connection, both ends of loopback, whole machine)\n",
                r->tcp_mem_before, r->tcp_mem_after,
                (double)(r->tcp_mem_after - r->tcp_mem_before) * 4096.0 / n);
    if (r->slab_before_kb >= 0 && n)
        fprintf(f, "kernel slab    %+.0f bytes per connection (both ends, whole machine)\n",
                (double)(r->slab_after_kb - r->slab_before_kb) * 1024.0 / n);
}

/* The relay modes' measured figures. */
static void text_relay(FILE *f, const struct report *r)
{
    const struct lg_config *c = r->cfg;
    const struct lg_stats *m = &r->meas;
    unsigned per = c->mode == LG_MODE_RELAY_DIRECTED ? 1 : c->room_size - 1;
    fprintf(f, "relays out     %12" PRIu64 "  %10.1f /s  (%s, %u frame%s each)\n", m->relays_out,
            per_s(r, m->relays_out), c->mode == LG_MODE_RELAY_DIRECTED ? "directed" : "broadcast",
            per, per == 1 ? "" : "s");
    fprintf(f, "relays refused %12" PRIu64 "  (failure replies)\n", m->relays_refused);
    fprintf(f, "relays accepted%12" PRIu64 "  %10.1f /s  (out - refused)\n",
            m->relays_out - m->relays_refused, per_s(r, m->relays_out - m->relays_refused));
    fprintf(f, "relays done    %12" PRIu64 "  %10.1f /s  (every frame read)\n", m->relays_done,
            per_s(r, m->relays_done));
    fprintf(f,
            "relays expired %12" PRIu64 "  (not done %.1f s after sending; %" PRIu64
            " frames missing)\n",
            m->relays_expired, c->relay_timeout, m->frames_missing);
    fprintf(f, "frames in      %12" PRIu64 "  %10.1f /s  (relayed frames read)\n", m->frames_in,
            per_s(r, m->frames_in));
    fprintf(f,
            "frame checks   %" PRIu64 " bad (data, sender peer_id, room or recipient), %" PRIu64
            " late (relay expired), %" PRIu64 " duplicate\n",
            m->frames_bad, m->frames_late, m->frames_dup);
    fprintf(f, "data in        %12" PRIu64 "  %10.2f MB/s  (payload: relay data bytes read)\n",
            m->data_in, per_s(r, m->data_in) / 1e6);
    fprintf(f, "frame bytes in %12" PRIu64 "  %10.2f MB/s  (relayed messages, JSON)\n",
            m->frame_bytes_in, per_s(r, m->frame_bytes_in) / 1e6);
    fprintf(f,
            "latency        p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  p999 %.3f ms  max %.3f ms  "
            "(relay written -> its last frame read, n=%" PRIu64 ")\n",
            ms(hist_quantile(&m->relay_lat, 0.50)), ms(hist_quantile(&m->relay_lat, 0.90)),
            ms(hist_quantile(&m->relay_lat, 0.99)), ms(hist_quantile(&m->relay_lat, 0.999)),
            ms(m->relay_lat.max), m->relay_lat.n);
}

void report_text(FILE *f, const struct report *r)
{
    const struct lg_config *c = r->cfg;
    const struct lg_stats *m = &r->meas;
    fprintf(f, "loadgen%s%s%s: %s, %s loop", c->label ? " [" : "", c->label ? c->label : "",
            c->label ? "]" : "", c->url, mode_name(c->mode));
    if (c->mode == LG_MODE_OPEN)
        fprintf(f, " at %.0f announces/s", c->rate);
    if (LG_MODE_IS_RELAY(c->mode))
        fprintf(f, ", %u threads%s, %u connections in %u rooms of %u, data %u bytes, window %u\n",
                c->threads, c->busy_poll ? " (busy-polling)" : "", c->connections, c->rooms,
                c->room_size, c->data_bytes, c->window);
    else
        fprintf(f, ", %u threads%s, %u connections, %u offers per announce\n", c->threads,
                c->busy_poll ? " (busy-polling)" : "", c->connections, c->offers);
    if (c->mode == LG_MODE_IDLE) {
        text_idle(f, r);
        text_errors(f, &r->total, "errors");
        if (c->check)
            fprintf(f, "check: %s%s\n", r->check_ok ? "ok" : "FAILED: ", r->check_why);
        return;
    }
    fprintf(f,
            "measured       %.2f s after %.1f s warmup; open connections %u at start, %u at end\n",
            r->measured_s, c->warmup, r->open_at_start, r->open_at_end);
    if (LG_MODE_IS_RELAY(c->mode)) {
        text_relay(f, r);
    } else {
        fprintf(f, "announces      %12" PRIu64 "  %10.1f /s\n", m->announces,
                per_s(r, m->announces));
        fprintf(f, "responses      %12" PRIu64 "  %10.1f /s  (announce responses)\n", m->responses,
                per_s(r, m->responses));
        fprintf(f, "offers in      %12" PRIu64 "  %10.1f /s  (of %.1f /s sent)\n", m->offers_in,
                per_s(r, m->offers_in), per_s(r, m->offers_out));
        fprintf(f, "answers out    %12" PRIu64 "  %10.1f /s\n", m->answers_out,
                per_s(r, m->answers_out));
        fprintf(f, "answers in     %12" PRIu64 "  %10.1f /s\n", m->answers_in,
                per_s(r, m->answers_in));
        fprintf(f,
                "messages in    %12" PRIu64 "  %10.1f /s  (aquatic's \"responses per second\")\n",
                m->msgs_in, per_s(r, m->msgs_in));
        if (c->mode == LG_MODE_OPEN)
            fprintf(f, "rate missed    %12" PRIu64 "  send slots with no idle connection\n",
                    m->rate_missed);
        fprintf(f,
                "latency        p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  p999 %.3f ms  max %.3f ms  "
                "(announce -> response, n=%" PRIu64 ")\n",
                ms(hist_quantile(&m->lat, 0.50)), ms(hist_quantile(&m->lat, 0.90)),
                ms(hist_quantile(&m->lat, 0.99)), ms(hist_quantile(&m->lat, 0.999)), ms(m->lat.max),
                m->lat.n);
    }
    text_errors(f, m, "errors");
    if (errors_total(&r->total) != errors_total(m))
        text_errors(f, &r->total, "errors (run)");
    fprintf(f, "traffic        %.1f MB/s out, %.1f MB/s in\n", per_s(r, m->bytes_out) / 1e6,
            per_s(r, m->bytes_in) / 1e6);
    fprintf(f, "loadgen cpu    %.2f s = %.1f %% of %u thread(s)\n", (double)r->self_cpu_ns / 1e9,
            self_cpu_pct(r), c->threads);
    if (self_cpu_pct(r) > 80.0)
        fprintf(f,
                "WARNING: loadgen used %.0f %% of its threads: it may be the bottleneck; add "
                "--threads or cores\n",
                self_cpu_pct(r));
    if (r->n_cpus) {
        fprintf(f, "machine cpus   busy");
        for (unsigned i = 0; i < r->n_cpus; i++)
            fprintf(f, " cpu%u %.0f %%", i, r->cpu_busy_pct[i]);
        fprintf(f, "  (everything on the machine, during the measured phase)\n");
    }
    if (c->server_pid) {
        if (r->server_cpu_ns >= 0 && LG_MODE_IS_RELAY(c->mode))
            fprintf(f,
                    "server cpu     %.2f s = %.1f %% of one core; %.2f us per relay, %.3f us per "
                    "frame\n",
                    (double)r->server_cpu_ns / 1e9,
                    100.0 * (double)r->server_cpu_ns / 1e9 / r->measured_s,
                    m->relays_out ? (double)r->server_cpu_ns / 1e3 / (double)m->relays_out : -1.0,
                    m->frames_in ? (double)r->server_cpu_ns / 1e3 / (double)m->frames_in : -1.0);
        else if (r->server_cpu_ns >= 0)
            fprintf(f, "server cpu     %.2f s = %.1f %% of one core; %.2f us per announce cycle\n",
                    (double)r->server_cpu_ns / 1e9,
                    100.0 * (double)r->server_cpu_ns / 1e9 / r->measured_s, us_per_cycle(r));
        if (r->server_wait_ns >= 0)
            fprintf(f,
                    "server waited  %.2f s = %.1f %% of the time runnable but off-CPU (other "
                    "processes on its core)\n",
                    (double)r->server_wait_ns / 1e9,
                    100.0 * (double)r->server_wait_ns / 1e9 / r->measured_s);
        fprintf(f, "server memory  RSS %.1f MiB, peak (VmHWM) %.1f MiB\n",
                r->server_rss_kb / 1024.0, r->server_hwm_kb / 1024.0);
    }
    if (r->ts_before.ok && r->ts_after.ok) {
        fprintf(f, "tracker stats  (whole run)");
        for (unsigned i = 0; i < r->ts_after.n; i++) {
            const char *nm = r->ts_after.name[i];
            if (!strcmp(nm, "connections") || !strcmp(nm, "peersAll") || !strcmp(nm, "torrents"))
                fprintf(f, " %s=%" PRId64, nm, r->ts_after.v[i]);
            else
                fprintf(f, " %s+%" PRId64, nm, ts_delta(r, nm));
        }
        fprintf(f, "\n");
        if (LG_MODE_IS_RELAY(c->mode))
            fprintf(f,
                    "loadgen saw    (whole run) announces=%" PRIu64 " relays_out=%" PRIu64
                    " relays_refused=%" PRIu64 " frames_in=%" PRIu64 "\n",
                    r->total.announces, r->total.relays_out, r->total.relays_refused,
                    r->total.frames_in);
        else
            fprintf(f,
                    "loadgen sent   (whole run) announces+answers=%" PRIu64 " offers_in=%" PRIu64
                    " answers_in=%" PRIu64 "\n",
                    r->total.announces + r->total.answers_out, r->total.offers_in,
                    r->total.answers_in);
    }
    if (c->check)
        fprintf(f, "check: %s%s\n", r->check_ok ? "ok" : "FAILED: ", r->check_why);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void json_stats(FILE *f, const struct report *r, const struct lg_stats *s, double secs)
{
    fprintf(f,
            "{\"announces\":%" PRIu64 ",\"responses\":%" PRIu64 ",\"failed_replies\":%" PRIu64
            ",\"offers_out\":%" PRIu64 ",\"offers_in\":%" PRIu64 ",\"answers_out\":%" PRIu64
            ",\"answers_in\":%" PRIu64 ",\"messages_in\":%" PRIu64 ",\"other_in\":%" PRIu64
            ",\"unmatched\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"rate_missed\":%" PRIu64
            ",\"pings\":%" PRIu64 ",\"connects\":%" PRIu64 ",\"bytes_out\":%" PRIu64
            ",\"bytes_in\":%" PRIu64,
            s->announces, s->responses, s->failed_replies, s->offers_out, s->offers_in,
            s->answers_out, s->answers_in, s->msgs_in, s->other_in, s->unmatched, s->lost,
            s->rate_missed, s->pings, s->connects, s->bytes_out, s->bytes_in);
    if (secs > 0)
        fprintf(f,
                ",\"announces_per_s\":%.1f,\"responses_per_s\":%.1f,\"offers_in_per_s\":%.1f"
                ",\"answers_in_per_s\":%.1f,\"messages_in_per_s\":%.1f",
                s->announces / secs, s->responses / secs, s->offers_in / secs, s->answers_in / secs,
                s->msgs_in / secs);
    fprintf(f,
            ",\"latency_ms\":{\"n\":%" PRIu64 ",\"p50\":%.4f,\"p90\":%.4f,\"p99\":%.4f"
            ",\"p999\":%.4f,\"max\":%.4f,\"mean\":%.4f}",
            s->lat.n, ms(hist_quantile(&s->lat, 0.5)), ms(hist_quantile(&s->lat, 0.9)),
            ms(hist_quantile(&s->lat, 0.99)), ms(hist_quantile(&s->lat, 0.999)), ms(s->lat.max),
            s->lat.n ? ms(s->lat.sum / s->lat.n) : 0.0);
    if (LG_MODE_IS_RELAY(r->cfg->mode)) {
        fprintf(f,
                ",\"relays_out\":%" PRIu64 ",\"relays_refused\":%" PRIu64
                ",\"relays_done\":%" PRIu64 ",\"relays_expired\":%" PRIu64
                ",\"frames_missing\":%" PRIu64 ",\"frames_in\":%" PRIu64 ",\"frames_bad\":%" PRIu64
                ",\"frames_late\":%" PRIu64 ",\"frames_dup\":%" PRIu64 ",\"data_in\":%" PRIu64
                ",\"frame_bytes_in\":%" PRIu64,
                s->relays_out, s->relays_refused, s->relays_done, s->relays_expired,
                s->frames_missing, s->frames_in, s->frames_bad, s->frames_late, s->frames_dup,
                s->data_in, s->frame_bytes_in);
        if (secs > 0)
            fprintf(f,
                    ",\"relays_per_s\":%.1f,\"relays_accepted_per_s\":%.1f,\"frames_per_s\":%.1f"
                    ",\"data_bytes_per_s\":%.1f",
                    s->relays_out / secs, (s->relays_out - s->relays_refused) / secs,
                    s->frames_in / secs, s->data_in / secs);
        fprintf(f,
                ",\"relay_latency_ms\":{\"n\":%" PRIu64 ",\"p50\":%.4f,\"p90\":%.4f"
                ",\"p99\":%.4f,\"p999\":%.4f,\"max\":%.4f}",
                s->relay_lat.n, ms(hist_quantile(&s->relay_lat, 0.5)),
                ms(hist_quantile(&s->relay_lat, 0.9)), ms(hist_quantile(&s->relay_lat, 0.99)),
                ms(hist_quantile(&s->relay_lat, 0.999)), ms(s->relay_lat.max));
    }
    fprintf(f, ",\"errors\":{\"total\":%" PRIu64, errors_total(s));
    for (unsigned c = 0; c < LG_ERR_CLASSES; c++)
        fprintf(f, ",\"%s\":%" PRIu64, class_name[c], s->err_class[c]);
    fprintf(f, ",\"texts\":[");
    for (unsigned i = 0; i < s->n_err; i++) {
        fprintf(f, "%s{\"class\":\"%s\",\"n\":%" PRIu64 ",\"text\":", i ? "," : "",
                class_name[s->err[i].cls], s->err[i].n);
        json_str(f, s->err[i].text);
        fputc('}', f);
    }
    fprintf(f, "],\"other_texts\":%" PRIu64 "}}", s->err_other);
}

void report_json(FILE *f, const struct report *r)
{
    const struct lg_config *c = r->cfg;
    fprintf(f, "{\"label\":");
    json_str(f, c->label ? c->label : "");
    fprintf(f, ",\"url\":");
    json_str(f, c->url);
    fprintf(
        f,
        ",\"mode\":\"%s\",\"busy_poll\":%s,\"threads\":%u,\"connections\":%u,\"offers\":%u,"
        "\"hashes\":%u"
        ",\"rate\":%.1f,\"duration_s\":%.1f,\"warmup_s\":%.1f,\"connect_s\":%.3f"
        ",\"measured_s\":%.3f,\"open_at_start\":%u,\"open_at_end\":%u,\"inflight_end\":%" PRIu64,
        mode_name(c->mode), c->busy_poll ? "true" : "false", c->threads, c->connections, c->offers,
        c->hashes, c->rate, c->duration, c->warmup, r->connect_s, r->measured_s, r->open_at_start,
        r->open_at_end, r->inflight_end);
    if (LG_MODE_IS_RELAY(c->mode))
        fprintf(f, ",\"rooms\":%u,\"room_size\":%u,\"data_bytes\":%u,\"window\":%u", c->rooms,
                c->room_size, c->data_bytes, c->window);
    fprintf(f, ",\"measured\":");
    json_stats(f, r, &r->meas, r->measured_s);
    fprintf(f, ",\"total\":");
    json_stats(f, r, &r->total, 0);
    fprintf(f, ",\"loadgen_cpu_s\":%.3f,\"loadgen_cpu_pct\":%.1f", (double)r->self_cpu_ns / 1e9,
            self_cpu_pct(r));
    fprintf(f, ",\"cpu_busy_pct\":[");
    for (unsigned i = 0; i < r->n_cpus; i++)
        fprintf(f, "%s%.1f", i ? "," : "", r->cpu_busy_pct[i]);
    fprintf(f, "]");
    fprintf(f, ",\"server\":{\"pid\":%d", (int)c->server_pid);
    if (c->server_pid) {
        fprintf(f, ",\"runq_wait_s\":%.3f",
                r->server_wait_ns >= 0 ? (double)r->server_wait_ns / 1e9 : -1.0);
        fprintf(f,
                ",\"cpu_s\":%.3f,\"us_per_announce_cycle\":%.3f,\"rss_kb\":%" PRId64
                ",\"hwm_kb\":%" PRId64,
                r->server_cpu_ns >= 0 ? (double)r->server_cpu_ns / 1e9 : -1.0, us_per_cycle(r),
                r->server_rss_kb, r->server_hwm_kb);
    }
    fprintf(f, "}");
    if (c->mode == LG_MODE_IDLE) {
        double n = r->idle_done ? r->idle_done : 1;
        fprintf(f,
                ",\"idle\":{\"swarms\":%u,\"hold_s\":%.1f,\"announced\":%u,\"failed\":%u"
                ",\"rss_before_kb\":%" PRId64 ",\"rss_after_kb\":%" PRId64
                ",\"rss_end_kb\":%" PRId64 ",\"rss_min_kb\":%" PRId64 ",\"rss_max_kb\":%" PRId64
                ",\"rss_bytes_per_conn\":%.1f,\"tcp_mem_pages_before\":%" PRId64
                ",\"tcp_mem_pages_after\":%" PRId64 ",\"tcp_mem_bytes_per_conn\":%.1f"
                ",\"slab_bytes_per_conn\":%.1f}",
                c->swarms, c->hold, r->idle_done, r->idle_gone, r->rss_before_kb, r->rss_after_kb,
                r->rss_end_kb, r->rss_min_kb, r->rss_max_kb,
                (double)(r->rss_after_kb - r->rss_before_kb) * 1024.0 / n, r->tcp_mem_before,
                r->tcp_mem_after, (double)(r->tcp_mem_after - r->tcp_mem_before) * 4096.0 / n,
                (double)(r->slab_after_kb - r->slab_before_kb) * 1024.0 / n);
    }
    if (r->ts_before.ok && r->ts_after.ok) {
        fprintf(f, ",\"tracker_stats_delta\":{");
        for (unsigned i = 0; i < r->ts_after.n; i++)
            fprintf(f, "%s\"%s\":%" PRId64, i ? "," : "", r->ts_after.name[i],
                    ts_delta(r, r->ts_after.name[i]));
        fprintf(f, "}");
    }
    if (c->check) {
        fprintf(f, ",\"check\":{\"ok\":%s,\"why\":", r->check_ok ? "true" : "false");
        json_str(f, r->check_why);
        fprintf(f, "}");
    }
    fprintf(f, "}\n");
}
