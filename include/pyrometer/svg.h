/*
 * svg.h - flame graphs as one self-contained, interactive SVG document.
 *
 * The document needs no network and no other file: the frames are <rect>s
 * and <text>s, and a script embedded in the document reads everything it
 * needs from their attributes and <title>s (it holds no data of its own, so
 * no name from the target is ever inside the script). The root ("all") is
 * at the bottom, callees above their callers; a frame's width is its
 * inclusive weight. Hover shows a frame's full text and every event's
 * inclusive count and share; a click zooms into a frame (its ancestors stay,
 * dimmed, at full width; "Reset Zoom" or a click on "all" undoes it);
 * Ctrl-F or "Search" highlights the frames matching a regular expression and
 * shows their share ("Matched: 12.3%").
 *
 * The writer itself is writer_svg (output.h): frames coloured by kind
 * (Python warm, native blue, markers and kernel purple, threads green), or
 * shaded by a metric with o->color_by; weights as o->weight_event says; the
 * title from o->run when it is set.
 *
 * Frames narrower than a tenth of a pixel (of a 1200 px wide graph) are
 * left out, their descendants with them, and at most 32768 frames are
 * drawn (beyond, the deepest rows go and the subtitle says so), so a
 * profile of any size gives a file of about 10 MB at most. Names are
 * escaped for XML; invalid UTF-8 becomes U+FFFD and control characters
 * \xNN.
 */
#ifndef PYROMETER_SVG_H
#define PYROMETER_SVG_H

#include <stdio.h>

struct profile;
struct output_opts;

/*
 * A differential flame graph: the frames laid out by cur (weights, thread
 * roots and title as writer_svg with o), each coloured by how its share of
 * the total (inclusive weight / total weight) changed from base to cur: red
 * grew, blue shrank, near white the same, the intensity by the size of the
 * change against the largest one in the graph (or 0.1 pp, when all are
 * smaller). Hover shows both shares and the change in percentage points.
 *
 * A frame of cur matches the frame of base with the same path from the root
 * of (name, file, line, kind), compared as strings: the two profiles may
 * intern their strings in different pools. A frame absent from base had a
 * share of 0; a frame absent from cur is not drawn (the graph shows cur).
 * With o->weight_event = k + 1, base is weighted by its event of the same
 * name as cur's event k (-EINVAL when base has none).
 *
 * Neither profile is changed. Returns 0, -ENOMEM, -EINVAL, or -EIO when
 * writing to f failed.
 */
int svg_write_diff(FILE *f, const struct profile *base, const struct profile *cur,
		   const struct output_opts *o);

#endif
