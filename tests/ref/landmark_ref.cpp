// landmark_ref.cpp — golden 68-point landmarks from dlib 19 (Debian
// libdlib-dev) for tests/test_landmarks.c. Built and run by
// tests/ref/make_landmark_refs.py; not part of the build.
//
//   landmark_ref MODEL.dat < commands > refs
//
// Commands on stdin, one a line:
//   IMG NAME FILE.pgm      the grey image (binary PGM) the next lines use
//   DETECT                 run dlib's HOG frontal face detector (upsampled
//                          once), then landmarks on each box it finds
//   BOX SOURCE x y w h     landmarks on this box (pixels x .. x + w - 1)
// Output, one line per face:
//   NAME SOURCE x y w h  x0 y0 x1 y1 ... (68 points, %.9g)
//
// The points are the shape before dlib rounds them to integer pixels: the
// model is deserialized part by part and run with dlib's own pieces
// (impl::extract_feature_pixel_values, the trees' operator(),
// impl::unnormalizing_tform) in the order shape_predictor::operator() uses.
// Each point is checked against shape_predictor's own (rounded) output; a
// point that rounds otherwise is reported on stderr and fails the run.
#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

using namespace dlib;

static bool read_pgm(const std::string &path, array2d<unsigned char> &img) {
    std::ifstream f(path, std::ios::binary);
    std::string magic;
    long w, h, maxv;
    if (!(f >> magic >> w >> h >> maxv) || magic != "P5" || maxv != 255) return false;
    f.get();
    img.set_size(h, w);
    for (long y = 0; y < h; y++) f.read(reinterpret_cast<char *>(&img[y][0]), w);
    return bool(f);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: landmark_ref MODEL.dat < commands\n");
        return 2;
    }
    matrix<float, 0, 1> initial;
    std::vector<std::vector<impl::regression_tree>> forests;
    std::vector<std::vector<unsigned long>> anchor;
    std::vector<std::vector<dlib::vector<float, 2>>> deltas;
    shape_predictor sp;
    {
        std::ifstream in(argv[1], std::ios::binary);
        int version = 0;
        deserialize(version, in);
        deserialize(initial, in);
        deserialize(forests, in);
        deserialize(anchor, in);
        deserialize(deltas, in);
        if (version != 1 || !in) return std::fprintf(stderr, "cannot read %s\n", argv[1]), 1;
        deserialize(argv[1]) >> sp;
    }
    frontal_face_detector hog = get_frontal_face_detector();
    array2d<unsigned char> img;
    std::string name, line;
    long mismatches = 0;
    auto run = [&](const std::string &source, const rectangle &rect) {
        matrix<float, 0, 1> shape = initial;
        std::vector<float> feats;
        for (unsigned long l = 0; l < forests.size(); l++) {
            impl::extract_feature_pixel_values(img, rect, shape, initial, anchor[l], deltas[l], feats);
            unsigned long leaf;
            for (unsigned long t = 0; t < forests[l].size(); t++) shape += forests[l][t](feats, leaf);
        }
        const point_transform_affine to_img = impl::unnormalizing_tform(rect);
        full_object_detection det = sp(img, rect);
        std::printf("%s %s %ld %ld %ld %ld", name.c_str(), source.c_str(), rect.left(), rect.top(), rect.width(),
                    rect.height());
        for (unsigned long i = 0; i < shape.size() / 2; i++) {
            dlib::vector<double, 2> p = to_img(impl::location(shape, i));
            std::printf(" %.9g %.9g", p.x(), p.y());
            point r = det.part(i);
            if (std::floor(p.x() + 0.5) != r.x() || std::floor(p.y() + 0.5) != r.y()) mismatches++;
        }
        std::printf("\n");
    };
    while (std::getline(std::cin, line)) {
        std::istringstream ss(line);
        std::string cmd;
        ss >> cmd;
        if (cmd == "IMG") {
            std::string file;
            ss >> name >> file;
            if (!read_pgm(file, img)) return std::fprintf(stderr, "cannot read %s\n", file.c_str()), 1;
        } else if (cmd == "DETECT") {
            for (const rectangle &r : hog(img, 1)) run("hog", r);
        } else if (cmd == "BOX") {
            std::string source;
            long x, y, w, h;
            ss >> source >> x >> y >> w >> h;
            run(source, rectangle(x, y, x + w - 1, y + h - 1));
        }
    }
    if (mismatches) std::fprintf(stderr, "%ld points round differently from shape_predictor's\n", mismatches);
    return mismatches ? 1 : 0;
}
