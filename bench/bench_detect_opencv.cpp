// bench_detect_opencv.cpp — the peer of `emo bench detect`: OpenCV 4.6's
// CascadeClassifier::detectMultiScale timed on the same grey frames.
// Built only by `make bench` (needs libopencv-dev); emo never links OpenCV.
//
//   bench_detect_opencv CASCADE.xml SCALE NEIGHBORS MINSIZE MAXSIZE THREADS REPS FRAME.png...
//
// Prints per repetition "rep_ms=T" (mean milliseconds per frame over all
// frames), then "faces=N" (boxes found in one pass over the frames).
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/objdetect.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char **argv) {
    if (argc < 9) {
        std::fprintf(stderr,
                     "usage: %s CASCADE.xml SCALE NEIGHBORS MINSIZE MAXSIZE THREADS REPS FRAME.png...\n", argv[0]);
        return 2;
    }
    cv::CascadeClassifier clf;
    if (!clf.load(argv[1])) {
        std::fprintf(stderr, "%s: cannot load cascade\n", argv[1]);
        return 1;
    }
    double scale = std::atof(argv[2]);
    int neighbors = std::atoi(argv[3]), minsz = std::atoi(argv[4]), maxsz = std::atoi(argv[5]);
    int threads = std::atoi(argv[6]), reps = std::atoi(argv[7]);
    cv::setNumThreads(threads);
    std::vector<cv::Mat> frames;
    for (int i = 8; i < argc; i++) {
        cv::Mat g = cv::imread(argv[i], cv::IMREAD_GRAYSCALE);
        if (g.empty()) {
            std::fprintf(stderr, "%s: cannot read\n", argv[i]);
            return 1;
        }
        frames.push_back(g);
    }
    std::vector<cv::Rect> faces;
    size_t total = 0;
    for (auto &f : frames) { // warm-up pass, also counts the boxes
        clf.detectMultiScale(f, faces, scale, neighbors, 0, cv::Size(minsz, minsz), cv::Size(maxsz, maxsz));
        total += faces.size();
    }
    for (int r = 0; r < reps; r++) {
        auto t0 = std::chrono::steady_clock::now();
        for (auto &f : frames)
            clf.detectMultiScale(f, faces, scale, neighbors, 0, cv::Size(minsz, minsz), cv::Size(maxsz, maxsz));
        double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        std::printf("rep_ms=%.4f\n", ms / (double)frames.size());
    }
    std::printf("faces=%zu\n", total);
    return 0;
}
