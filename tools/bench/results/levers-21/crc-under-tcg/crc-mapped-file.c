#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "crc-table.h"
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static int fd; static size_t total; static int mode;
struct job{size_t from,to;uint32_t crc;};
static void *run(void*a){struct job*j=a;uint32_t c=0;size_t W=1<<20;unsigned char*buf=malloc(W);
 for(size_t at=j->from;at<j->to;at+=W){
  if(mode==2){pread(fd,buf,W,at);c=crc_table(c,buf,W);continue;}
  unsigned char*p=mmap(0,W,PROT_READ,MAP_SHARED|(mode==1?MAP_POPULATE:0),fd,at);
  if(mode==0)madvise(p,W,MADV_SEQUENTIAL);
  c=crc_table(c,p,W);munmap(p,W);}
 j->crc=c;return 0;}
int main(int argc,char**argv){build_table();total=(size_t)atoi(argv[2])<<20;
 fd=open(argv[1],O_RDWR|O_CREAT|O_TRUNC,0600);unsigned char*b=malloc(1<<20);for(int i=0;i<(1<<20);i++)b[i]=i*7+3;
 for(size_t at=0;at<total;at+=1<<20)write(fd,b,1<<20);
 double t0=now();uint32_t c=0;for(int r=0;r<64;r++)c=crc_table(c,b,1<<20);printf("anon 64 MiB: %.0f MB/s\n",64*1.048576/(now()-t0));
 for(mode=0;mode<3;mode++)for(int th=1;th<=2;th++){pthread_t t[2];struct job j[2];double s=now();
  for(int i=0;i<th;i++){j[i].from=total/th*i;j[i].to=total/th*(i+1);pthread_create(&t[i],0,run,&j[i]);}
  for(int i=0;i<th;i++)pthread_join(t[i],0);
  printf("%s threads=%d: %.0f ms (%.0f MB/s)\n",mode==0?"mmap+seq":mode==1?"mmap+populate":"pread",th,(now()-s)*1e3,total/1e6/(now()-s));}
 unlink(argv[1]);return 0;}
