/* commands.h — every subcommand of the emo CLI; the table is in tools/emo.c. */
#ifndef EMO_COMMANDS_H
#define EMO_COMMANDS_H
int cmd_batch(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_camera(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_detect(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_image(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_video(int argc, char **argv);
int cmd_train(int argc, char **argv);
#endif
