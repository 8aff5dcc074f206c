/* test_tui_render.c - roomtui's renderer: each shape type gives the expected
 * character grid (golden text), shapes clip at the viewport edges (also
 * shapes far larger than it), panning moves everything, later shapes draw on
 * top, markers carry their label, the pending/selected attributes land on
 * the right cells, hit testing finds the topmost shape, and poll bars scale. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "render.h" /* compiled in: RK_UNIT_SRC_ in tests/CMakeLists.txt */

static rk_state *state_of(const char *shapes_json)
{
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_buf_printf(&b, "{\"shapes\":{%s},\"polls\":{},\"chat\":[]}", shapes_json);
	rk_state *st;
	char err[160];
	assert_int_equal(rk_state_decode_text(b.data, b.len, &st, err, sizeof(err)),
			 RK_OK);
	rk_buf_free(&b);
	return st;
}

/* Render st through a w x h viewport at (vx, vy) and compare with golden. */
static void golden(const rk_state *st, int w, int h, int64_t vx, int64_t vy,
		   const char *want)
{
	tr_grid g;
	assert_int_equal(tr_grid_init(&g, w, h), RK_OK);
	tr_board(&g, st, vx, vy, NULL);
	rk_buf b;
	rk_buf_init(&b, 0);
	tr_grid_text(&g, &b);
	assert_string_equal(b.data, want);
	rk_buf_free(&b);
	tr_grid_free(&g);
}

#define SHAPE(id, type, color, pts, extra)                                               \
	"\"" id "\":{\"id\":\"" id "\",\"type\":\"" type "\",\"color\":" #color          \
	",\"points\":" pts extra ",\"by\":\"t\"}"

static void test_each_type(void **state)
{
	rk_state *st = state_of(SHAPE("r", "rect", 1, "[[1,1],[6,4]]", "") "," SHAPE(
	    "l", "line", 2, "[[8,0],[11,3]]",
	    "") "," SHAPE("h", "line", 2, "[[8,5],[11,5]]",
			  "") "," SHAPE("s", "stroke", 3, "[[0,6],[2,6],[2,7]]",
					"") "," SHAPE("t", "text", 4, "[[4,7]]",
						      ",\"text\":\"hi \xc3\xa9!\""));
	golden(st, 12, 8, 0, 0,
	       "        \\   \n"
	       " +----+  \\  \n"
	       " |    |   \\ \n"
	       " |    |    \\\n"
	       " +----+     \n"
	       "        ----\n"
	       "***         \n"
	       "  * hi ?!   \n");
	rk_state_free(st);
}

static void test_clip_and_pan(void **state)
{
	/* A rect far bigger than the viewport, and a diagonal line crossing it. */
	rk_state *st =
	    state_of(SHAPE("big", "rect", 0, "[[-1000000000000,-3],[1000000000000,2]]",
			   "") "," SHAPE("d", "line", 5, "[[-100,-100],[100,100]]", ""));
	golden(st, 6, 6, -2, -4,
	       "      \n"
	       "------\n"
	       "\\     \n"
	       " \\    \n"
	       "  \\   \n"
	       "   \\  \n");
	/* Pan right by 3: the diagonal slides out to the left. */
	golden(st, 6, 6, 1, -4,
	       "      \n"
	       "------\n"
	       "      \n"
	       "      \n"
	       "      \n"
	       "\\     \n");
	rk_state_free(st);
}

static void test_z_order_attrs_markers(void **state)
{
	rk_state *st = state_of(SHAPE("a", "line", 1, "[[0,0],[4,0]]", "") "," SHAPE(
	    "b", "text", 2, "[[2,0]]", ",\"text\":\"XY\""));
	tr_grid g;
	assert_int_equal(tr_grid_init(&g, 8, 2), RK_OK);
	tr_board_opts o = {.selected = "b"};
	tr_board(&g, st, 0, 0, &o);
	tr_marker(&g, 0, 0, 1, 1, '@', "bob", 6);
	rk_buf b;
	rk_buf_init(&b, 0);
	tr_grid_text(&g, &b);
	assert_string_equal(b.data, "--XY-   \n"
				    " @bob   \n");
	assert_int_equal(tr_at(&g, 0, 0)->color, 1);
	assert_int_equal(tr_at(&g, 0, 0)->attr, 0);
	assert_int_equal(tr_at(&g, 2, 0)->color, 2);
	assert_int_equal(tr_at(&g, 2, 0)->attr, TR_ATTR_SELECTED);
	assert_int_equal(tr_at(&g, 2, 1)->attr, TR_ATTR_MARKER);
	assert_int_equal(tr_at(&g, 7, 1)->color, TR_COLOR_NONE);
	/* Topmost hit. */
	assert_string_equal(tr_shape_at(st, 2, 0)->id, "b");
	assert_string_equal(tr_shape_at(st, 0, 0)->id, "a");
	assert_null(tr_shape_at(st, 0, 1));
	rk_buf_free(&b);
	tr_grid_free(&g);
	rk_state_free(st);
}

static void test_preview_is_pending(void **state)
{
	tr_grid g;
	assert_int_equal(tr_grid_init(&g, 5, 3), RK_OK);
	rk_point pts[2] = {{0, 0}, {4, 2}};
	tr_preview(&g, 0, 0, RK_SHAPE_RECT, pts, 2, 3);
	rk_buf b;
	rk_buf_init(&b, 0);
	tr_grid_text(&g, &b);
	assert_string_equal(b.data, "+---+\n"
				    "|   |\n"
				    "+---+\n");
	assert_int_equal(tr_at(&g, 0, 0)->attr, TR_ATTR_PENDING);
	rk_buf_free(&b);
	tr_grid_free(&g);
}

static void test_bars(void **state)
{
	static const struct {
		int w;
		int64_t count, max;
		const char *want;
	} cases[] = {
	    {8, 0, 0, "........"},   {8, 4, 4, "########"}, {8, 2, 4, "####...."},
	    {8, 1, 100, "#......."}, {4, 3, 4, "###."},	    {0, 3, 4, ""},
	};
	for (size_t i = 0; i < RK_ARRAY_LEN(cases); i++) {
		char out[16];
		tr_bar(out, cases[i].w, cases[i].count, cases[i].max);
		assert_string_equal(out, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_each_type),
	    cmocka_unit_test(test_clip_and_pan),
	    cmocka_unit_test(test_z_order_attrs_markers),
	    cmocka_unit_test(test_preview_is_pending),
	    cmocka_unit_test(test_bars),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
