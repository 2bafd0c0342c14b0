/* assets.h - the browser files the tracker serves, embedded at build time.
 *
 * Owns:   the declarations of the arrays cmake/embed.cmake generates from
 *         web/room.js (GET /room.js), web/demo.html (GET /demo) and
 *         web/stats.html (GET /stats, with its summary written in).
 * Thread: read-only data, any thread.
 * Why:    `docker run` must give a working demo with no files beside the
 *         binary and nothing fetched from a CDN.
 */
#ifndef WSTRACKER_ASSETS_H
#define WSTRACKER_ASSETS_H

extern const unsigned char asset_room_js[];
extern const unsigned int asset_room_js_len;
extern const unsigned char asset_demo_html[];
extern const unsigned int asset_demo_html_len;
extern const unsigned char asset_stats_html[];
extern const unsigned int asset_stats_html_len;

#endif
