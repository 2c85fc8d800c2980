#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "crc-table.h"
#define FOLD128(x, k) _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11))
__attribute__((target("sse4.1,pclmul")))
static uint32_t crc_fold128(uint32_t crc,const unsigned char*p,size_t len){
 if(len<128)return crc_table(crc,p,len);
 const __m128i k512=_mm_set_epi64x(0x75bba45b00000000,0x1c19243b00000000);
 const __m128i k128=_mm_set_epi64x(0x3171d43000000000,0x3743f7bd00000000);
 __m128i x0=_mm_loadu_si128((const __m128i*)p),x1=_mm_loadu_si128((const __m128i*)(p+16)),x2=_mm_loadu_si128((const __m128i*)(p+32)),x3=_mm_loadu_si128((const __m128i*)(p+48));
 x0=_mm_xor_si128(x0,_mm_cvtsi32_si128((int)crc));p+=64;len-=64;
 while(len>=64){
  x0=_mm_xor_si128(FOLD128(x0,k512),_mm_loadu_si128((const __m128i*)p));
  x1=_mm_xor_si128(FOLD128(x1,k512),_mm_loadu_si128((const __m128i*)(p+16)));
  x2=_mm_xor_si128(FOLD128(x2,k512),_mm_loadu_si128((const __m128i*)(p+32)));
  x3=_mm_xor_si128(FOLD128(x3,k512),_mm_loadu_si128((const __m128i*)(p+48)));
  p+=64;len-=64;}
 __m128i r=_mm_xor_si128(FOLD128(x0,k128),x1);
 r=_mm_xor_si128(FOLD128(r,k128),x2);
 r=_mm_xor_si128(FOLD128(r,k128),x3);
 for(;len>=16;p+=16,len-=16)r=_mm_xor_si128(FOLD128(r,k128),_mm_loadu_si128((const __m128i*)p));
 unsigned char b[16];_mm_storeu_si128((__m128i*)b,r);
 return crc_table(crc_table(0,b,16),p,len);}
static uint32_t t16[4][65536];
static void build16(void){for(int j=0;j<4;j++)for(uint32_t i=0;i<65536;i++)t16[j][i]=table[7-2*j][i&0xff]^table[6-2*j][i>>8];}
static uint32_t crc_t16(uint32_t crc,const unsigned char*p,size_t len){
 while(len>=8){uint64_t v;memcpy(&v,p,8);v^=crc;crc=t16[0][v&0xffff]^t16[1][(v>>16)&0xffff]^t16[2][(v>>32)&0xffff]^t16[3][v>>48];p+=8;len-=8;}
 while(len--)crc=(crc>>8)^table[0][(crc^*p++)&0xff];return crc;}
static uint64_t now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1000000000ull+t.tv_nsec;}
int main(int argc,char**argv){build_table();build16();size_t n=argc>1?atol(argv[1]):32768;int reps=argc>2?atoi(argv[2]):20;
 unsigned char*buf=malloc(n+64);for(size_t i=0;i<n+64;i++)buf[i]=(unsigned char)(i*131+7)^(i>>9);
 int bad=0;for(size_t l=0;l<2000;l+=(l<300?1:37))for(int a=0;a<9;a++){if(crc_table(0x12345678,buf+a,l)!=crc_fold128(0x12345678,buf+a,l))bad++;if(crc_table(7,buf+a,l)!=crc_t16(7,buf+a,l))bad++;}
 printf("mismatches %d\n",bad);
 uint64_t bt=-1,bf=-1,b16=-1;volatile uint32_t s=0;
 for(int i=0;i<reps;i++){uint64_t t0=now();s^=crc_table(s,buf,n);uint64_t t1=now();s^=crc_fold128(s,buf,n);uint64_t t2=now();if(t1-t0<bt)bt=t1-t0;uint64_t t3=now();s^=crc_t16(s,buf,n);uint64_t t4=now();if(t4-t3<b16)b16=t4-t3;if(t2-t1<bf)bf=t2-t1;}
 printf("len %zu table %.1f MB/s fold128 %.1f MB/s t16 %.1f MB/s\n",n,n*1e3/bt,n*1e3/bf,n*1e3/b16);return 0;}
