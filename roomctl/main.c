/* main.c - roomctl's process entry; everything else is in roomctl_main(). */
#include "roomctl.h"

int main(int argc, char **argv)
{
	return roomctl_main(argc, argv, stdout, stderr);
}
