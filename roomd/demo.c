/* demo.c - which embedded file each demo route serves (see demo.h). */
#include "demo.h"

/* Defined in the generated demo_assets.c. */
extern const unsigned char demo_index_html[], demo_roomkit_js[], demo_demo_js[],
    demo_demo_css[];
extern const size_t demo_index_html_len, demo_roomkit_js_len, demo_demo_js_len,
    demo_demo_css_len;

const demo_asset *demo_asset_for(rk_route route)
{
	static demo_asset assets[4];
	static const char *const js = "text/javascript; charset=utf-8";
	assets[0] = (demo_asset){demo_index_html, demo_index_html_len,
				 "text/html; charset=utf-8"};
	assets[1] = (demo_asset){demo_roomkit_js, demo_roomkit_js_len, js};
	assets[2] = (demo_asset){demo_demo_js, demo_demo_js_len, js};
	assets[3] =
	    (demo_asset){demo_demo_css, demo_demo_css_len, "text/css; charset=utf-8"};
	switch (route) {
	case RK_ROUTE_DEMO_PAGE:
		return &assets[0];
	case RK_ROUTE_DEMO_SDK:
		return &assets[1];
	case RK_ROUTE_DEMO_JS:
		return &assets[2];
	case RK_ROUTE_DEMO_CSS:
		return &assets[3];
	default:
		return NULL;
	}
}
